/* Uses the C API of a model library made by tptt-compile --emit=shared-lib:
 * prints what it finds, for FileCheck. Usage: capi_test [WEIGHTS] */
#include "tptt/Runtime/tptt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  char error[512];
  tptt_model *bad =
      tptt_model_open("/nonexistent.safetensors", error, sizeof(error));
  printf("open nonexistent: %s | %s\n", bad ? "model" : "null", error);

  tptt_model *model =
      tptt_model_open(argc > 1 ? argv[1] : NULL, error, sizeof(error));
  if (!model) {
    printf("open: %s\n", error);
    return 1;
  }
  int64_t vocab = tptt_model_vocab_size(model);
  printf("vocab: %lld\n", (long long)vocab);

  int64_t tokens[] = {3, 4, 5};
  float *logits = malloc(sizeof(float) * 3 * vocab);
  tptt_status status = tptt_model_logits(model, tokens, 3, -1.0f, logits);
  int finite = 1;
  for (int64_t i = 0; i < 3 * vocab; ++i)
    finite &= isfinite(logits[i]) != 0;
  printf("logits: status %d, finite %d\n", status, finite);

  int64_t wrong[] = {3, 999};
  status = tptt_model_logits(model, wrong, 2, -1.0f, logits);
  printf("logits out of range: status %d | %s\n", status,
         tptt_model_last_error(model));

  tptt_generate_options options;
  tptt_generate_defaults(&options);
  options.greedy = 1;
  options.max_new_tokens = 5;
  int64_t out[8], generated = 0;
  status = tptt_model_generate(model, tokens, 3, &options, out, 8, &generated);
  printf("generate: status %d, %lld tokens\n", status, (long long)generated);
  options.top_p = 2.0f;
  status = tptt_model_generate(model, tokens, 3, &options, out, 8, &generated);
  printf("generate bad options: status %d | %s\n", status,
         tptt_model_last_error(model));

  int64_t ids[4], count = 0;
  status = tptt_model_encode(model, "hello", ids, 4, &count);
  printf("encode: status %d | %s\n", status, tptt_model_last_error(model));

  /* Training: the model's own next tokens as labels, the last one none. */
  tptt_train_options train;
  tptt_train_defaults(&train);
  status = tptt_model_train_begin(model, &train);
  printf("train_begin: status %d | %s\n", status,
         status ? tptt_model_last_error(model) : "");
  if (status == TPTT_OK) {
    int64_t batch[] = {3, 4, 5, 6, 7, 8, 9, 10, 3, 4, 5, 6, 7, 8, 9, 10};
    int64_t labels[16];
    for (int i = 0; i < 16; ++i)
      labels[i] = i % 8 == 7 ? -100 : batch[i + 1];
    float first = 0.0f, loss = 0.0f, norm = 0.0f, eval = 0.0f;
    for (int step = 0; step < 8; ++step) {
      status = tptt_model_train_step(model, batch, labels, NULL, 2, 8, 1e-2f,
                                     -1.0f, &loss, &norm);
      if (step == 0)
        first = loss;
    }
    tptt_model_eval_loss(model, batch, labels, NULL, 2, 8, -1.0f, &eval);
    printf("train_step: status %d, loss %s, gradient norm %s\n", status,
           eval < first ? "lower" : "not lower", norm > 0.0f ? "> 0" : "0");
    status = tptt_model_train_step(model, batch, labels, NULL, 2, 8, -1.0f,
                                   -1.0f, &loss, &norm);
    printf("train_step bad lr: status %d | %s\n", status,
           tptt_model_last_error(model));
  }

  free(logits);
  tptt_model_close(model);
  tptt_model_close(NULL);
  return 0;
}
