/*===- tptt.h - The C API of a compiled TPTT model ----------------*- C -*-===*\
|*                                                                            *|
|* Part of the tptt project: an MLIR compiler for TPTT models.                *|
|*                                                                            *|
|* `tptt-compile MODEL_DIR --emit=shared-lib -o libmodel.so` makes a shared   *|
|* library holding one model (code, weights unless --external-weights, and    *|
|* tokenizer) with this API. Every function that can fail returns a           *|
|* tptt_status; tptt_model_last_error() then says why in one line. A model
handle   *|
|* is not thread-safe: use one per thread.                                    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef TPTT_RUNTIME_TPTT_H
#define TPTT_RUNTIME_TPTT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tptt_status {
  TPTT_OK = 0,
  /** A bad argument: null pointer, token id outside the vocabulary, ... */
  TPTT_ERROR_ARGUMENT = 1,
  /** The weights could not be found or do not fit the model. */
  TPTT_ERROR_WEIGHTS = 2,
  /** No tokenizer, or text it cannot encode (e.g. not UTF-8). */
  TPTT_ERROR_TOKENIZER = 3,
  /** The output buffer is too small; the needed size is reported. */
  TPTT_ERROR_CAPACITY = 4,
  /** The model was compiled without training entry points. */
  TPTT_ERROR_UNSUPPORTED = 5,
} tptt_status;

typedef struct tptt_model tptt_model;

/** Opens the model compiled into this library with its weights: the file
 *  `weights_path`, or (when NULL) those embedded in the library, or
 *  `<library>.weights.safetensors`. On failure returns NULL and copies the
 *  reason into `error` (at most `error_size` bytes, NUL-terminated). */
tptt_model *tptt_model_open(const char *weights_path, char *error,
                            size_t error_size);

/** Releases the model. NULL is allowed. */
void tptt_model_close(tptt_model *model);

/** Why the last call on `model` failed ("" after a success). */
const char *tptt_model_last_error(const tptt_model *model);

/** The model's manifest as JSON: architecture, sizes, LiZA layers, operator
 *  mode, semantics, mag_weight, token ids. Owned by the model. */
const char *tptt_model_info_json(const tptt_model *model);

/** The number of logits per position. */
int64_t tptt_model_vocab_size(const tptt_model *model);

/** Token ids of `text` (with the tokenizer's BOS template) into `ids`
 *  (`capacity` entries); `*count` receives how many there are (also when
 *  the capacity is too small: TPTT_ERROR_CAPACITY). */
tptt_status tptt_model_encode(tptt_model *model, const char *text, int64_t *ids,
                              int64_t capacity, int64_t *count);

/** The text of `ids` (special tokens left out) into `text` (`capacity`
 *  bytes, NUL-terminated); `*length` receives its length without the NUL
 *  (also when the capacity is too small: TPTT_ERROR_CAPACITY). */
tptt_status tptt_model_decode(tptt_model *model, const int64_t *ids,
                              int64_t count, char *text, size_t capacity,
                              size_t *length);

/** The full-sequence forward: `logits` receives count x vocab floats.
 *  `mag_weight` < 0 uses the config's μ. */
tptt_status tptt_model_logits(tptt_model *model, const int64_t *tokens,
                              int64_t count, float mag_weight, float *logits);

typedef struct tptt_generate_options {
  int64_t max_new_tokens; /**< default 32 */
  float temperature;      /**< default 1; 0 is greedy */
  int64_t top_k;          /**< default 0: all */
  float top_p;            /**< default 1 */
  uint64_t seed;          /**< default 0 */
  int greedy;             /**< default 0 */
  float mag_weight;       /**< default -1: the config's μ */
} tptt_generate_options;

/** Fills `options` with the defaults above. */
void tptt_generate_defaults(tptt_generate_options *options);

/** Continues `prompt` (token ids): the new ids go to `out` (`capacity`
 *  entries), `*generated` receives their number. Stops at an EOS token. */
tptt_status tptt_model_generate(tptt_model *model, const int64_t *prompt,
                                int64_t count,
                                const tptt_generate_options *options,
                                int64_t *out, int64_t capacity,
                                int64_t *generated);

typedef struct tptt_train_options {
  float beta1;         /**< default 0.9 */
  float beta2;         /**< default 0.999 */
  float eps;           /**< default 1e-8 */
  float weight_decay;  /**< default 0 */
  float max_grad_norm; /**< default 1; 0: no clipping */
  uint64_t seed;       /**< default 42: the LoRA A initialisation */
} tptt_train_options;

/** Fills `options` with the defaults above. */
void tptt_train_defaults(tptt_train_options *options);

/** Starts a training run on a model compiled with `tptt-compile --train`:
 *  LoRA adapters initialised as PEFT does (or the trained weights copied),
 *  AdamW moments zero. A later call starts over. TPTT_ERROR_UNSUPPORTED
 *  when the model has no training step. */
tptt_status tptt_model_train_begin(tptt_model *model,
                                   const tptt_train_options *options);

/** One AdamW step on a batch of `batch` x `length` tokens (row-major):
 *  `labels` holds the token each position predicts (-100: none), `mask`
 *  1 for real tokens and 0 for (left) padding (NULL: all real). `*loss`
 *  receives the batch's mean loss before the update, `*grad_norm` (may be
 *  NULL) the gradient's global norm before clipping. `lr` is finite and
 *  >= 0; `mag_weight` at most 1 (negative: the config's μ). */
tptt_status tptt_model_train_step(tptt_model *model, const int64_t *tokens,
                                  const int64_t *labels, const uint8_t *mask,
                                  int64_t batch, int64_t length, float lr,
                                  float mag_weight, float *loss,
                                  float *grad_norm);

/** The mean loss of a batch (same layout as tptt_model_train_step) with
 *  the current trained tensors, without updating them. */
tptt_status tptt_model_eval_loss(tptt_model *model, const int64_t *tokens,
                                 const int64_t *labels, const uint8_t *mask,
                                 int64_t batch, int64_t length,
                                 float mag_weight, float *loss);

#ifdef __cplusplus
}
#endif

#endif /* TPTT_RUNTIME_TPTT_H */
