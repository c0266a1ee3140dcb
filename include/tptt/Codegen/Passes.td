//===- Passes.td - tptt code-generation passes -------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The passes that generate code from linalg/scf/gpu IR: they never touch a
// tptt op. Their sources live by target in lib/Codegen/{Common,CPU,CUDA};
// the pipeline builder of each target (lib/Pipelines) schedules them.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_CODEGEN_PASSES_TD
#define TPTT_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Common: both targets (lib/Codegen/Common)
//===----------------------------------------------------------------------===//

def TpttFuseElementwiseOpsPass
    : Pass<"tptt-fuse-elementwise-ops"> {
  let summary = "Fuse elementwise producers into their consumers, keeping contractions";
  let description = [{
    Upstream `linalg-fuse-elementwise-ops` with one rule more: an
    elementwise producer is fused into a contraction (a linalg op whose body
    multiplies and accumulates, `linalg::isaContractionOpInterface`) only
    when the fused op is still a contraction, i.e. when the producer only
    converts the element type. A mask, negation or scaling stays a separate
    elementwise op, so that `tptt-vectorize-contractions` turns the
    contraction into a `vector.contract` instead of per-element selects.
    Every other fusion (chains of elementwise ops, an exponential into the
    sum of a softmax) happens as upstream, as do the reshape folding and the
    constant folding of that pass.

    Upstream fuses a producer only into its single user. A type conversion
    of a function argument (a bf16 weight widened to f32) that several ops
    read is first copied once per reader, so that every copy fuses and the
    converted tensor is never materialized: each reader widens the bf16
    elements it loads.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def TpttExportEntryPointsPass
    : Pass<"tptt-export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Request C-interface wrappers for the public function definitions";
  let description = [{
    Marks every public `func.func` that has a body with
    `llvm.emit_c_interface`, so that the LLVM conversion emits a
    `_mlir_ciface_<name>` wrapper taking memref descriptors by pointer: the
    ABI the runtime and tptt-run call. Unlike upstream
    `llvm-request-c-wrappers`, declarations (calls into the runtime or libc)
    and private helpers keep their plain symbol.
  }];
}

//===----------------------------------------------------------------------===//
// CPU (lib/Codegen/CPU)
//===----------------------------------------------------------------------===//

def TpttTileParallelContractionsPass
    : Pass<"tptt-tile-parallel-contractions", "::mlir::func::FuncOp"> {
  let summary = "Tile the contractions of a function into scf.forall loops";
  let description = [{
    The CPU tiling stage: every linalg op with a reduction loop (the
    projections, attention scores and other contractions) that is not
    already inside a parallel loop is tiled into an `scf.forall` over all its
    parallel dimensions but the innermost loop (tile size 1), so that the
    CPU tail runs those rows on all cores (OpenMP) while the innermost loop
    stays whole and contiguous for the vectorizer. The operator's own
    `scf.forall` over batch x heads is left alone.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def TpttVectorizeContractionsPass
    : Pass<"tptt-vectorize-contractions", "::mlir::func::FuncOp"> {
  let summary = "Register-tile and vectorize the small static contractions";
  let description = [{
    The CPU's register tiling. Every linalg op on tensors with static loop
    ranges, one reduction loop and a contiguous innermost output dimension
    that is a multiple of 8 (the chunked operator's per-chunk products
    W Kᵀ, W S₀, T (B − W S₀), Q S₀, Kᵀ U, ...) is tiled into output blocks of
    `rows` x `columns` elements (and reduction steps of at most `depth`, in
    the innermost loop), its unit loops are dropped, and every block
    becomes one `vector.contract`. Loop-invariant
    subsets are then hoisted out of every `scf.for` of the function (as
    `loop-invariant-subset-hoisting` does), which carries each block's
    accumulator through its reduction loop in vector registers while the
    operands stream: the LLVM tail lowers each contraction to broadcasts and
    fused multiply-adds. Ops that do not fit (dynamic shapes, several
    reductions, odd widths) are left to the scalar loops, and so are
    products of a single row with a matrix larger than 64 x 64 elements
    (a projection row of the decode step): blocks reuse nothing from
    registers there, and the loops stream the matrix row by row, which is
    faster from memory. Smaller ones (the UT transform's row updates) stay
    in L1 and gain from the blocks.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"4",
           "Output rows per register block (at most)">,
    Option<"columns", "columns", "int64_t", /*default=*/"16",
           "Output columns per register block (at most; a multiple of 8)">,
    Option<"depth", "depth", "int64_t", /*default=*/"64",
           "Reduction steps per vector.contract (at most)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

//===----------------------------------------------------------------------===//
// CUDA, and its emulation on the CPU (lib/Codegen/CUDA)
//===----------------------------------------------------------------------===//

def TpttMapContractionsToTensorCoresPass
    : Pass<"tptt-map-contractions-to-tensor-cores", "::mlir::func::FuncOp"> {
  let summary = "Run the projections and the operator's chunk products on "
                "tensor cores";
  let description = [{
    The CUDA tail's projections: a `linalg` op on buffers computing
    `C[p..., n...] += A[p..., k] * W[k, n...]` (or `W[n..., k]`; several
    n when a head split is folded into the projection), the operands
    possibly widened to f32 in its body, where the weight W is a static
    bf16 buffer and A and C are f32 or bf16 (C f32), becomes a
    `gpu.launch` that computes it with tf32 tensor-core operations
    (`gpu.subgroup_mma_*`, lowered to `wmma.*.m16n16k8` by
    `convert-gpu-to-nvvm`). Weights already rounded to bf16 lose nothing
    in tf32; the activations are rounded to it (10 bits of mantissa, to
    nearest, ties away from zero, as `cvt.rna.tf32.f32`; the tensor cores
    would truncate them), so the emulated kernel computes what a GPU's does
    up to the order of the sums. The f32 build, whose weights are f32, keeps
    exact FMA kernels for its projections.

    The dimensions `p...` of A and C are collapsed into M rows, and `n...`
    of W and C into N columns (all three buffers are contiguous). Each
    block computes a tile of (32·`warp-rows`) × (32·`warp-cols`) outputs,
    each warp a 32×32 part of it as 2×2 16×16 accumulators that stay in
    registers across the reduction. Per step of 32 along k, the block's
    threads stage the tiles of A and W in shared memory (as tf32 values in
    f32, zero past the edges, so any M, N and K work), a barrier follows,
    and each warp runs four k-steps of 8. The accumulators then go through
    shared memory to C, added to what it holds (coalesced, and guarded at
    the edges). Shared-memory rows are padded by 4 floats against bank
    conflicts, and the tiles start 32 bytes apart, as the fragment loads
    require; tiles past the 48 KiB of static shared memory a block has are
    an error. This form leaves alone the contractions inside a parallel
    loop (whose iterations become threads or blocks) or a kernel.

    A contraction with fewer than `min-rows` rows (a decode step's) stays
    as it is, for the FMA kernels that split its reduction across threads
    (`tptt-split-accumulations`); where M is known only at run time, an
    `scf.if` chooses between the two.

    With `cooperative` (the default), the contractions inside an
    `scf.forall` that can become a cooperative kernel (one block per
    iteration: the operator's loop over batch × heads, see
    `tptt-map-parallel-loops-to-gpu`) take the tensor cores too: each
    `C[i, j] += A[i, k] * B[k, j]` on static f32 buffers, every operand
    read through any permutation of its two dimensions, where M and N are
    multiples of 16 and K of 8 (the chunk products W·Kᵀ, W·S, T·(B − W·S),
    Q·Kᵀ, Q·S, P·U and Kᵀ·U). They keep f32 accuracy through 3xTF32: the
    block's threads stage A and B as big and small tf32 parts (big =
    tf32(x), small = tf32(x − big), rounded as above), and each warp sums
    small·big, big·small and big·big over its fragments; only small·small
    (below 2⁻²² of the product) is lost, where plain tf32 would lose 2⁻¹¹.
    The warps share the 16×16 tiles of C through a parallel loop over
    (tiles × `threads-per-warp`), the threads of a warp numbered fastest,
    so that the kernel's thread-strided schedule gives each warp whole
    tiles. The tiles go through a staging buffer to C, added to what it
    holds. The staging buffers (A, B and C, sized for the loop's largest
    contraction, rows padded by 4 floats) are allocated once per loop, just
    before its first contraction: in the operator, after the state and the
    chunk's buffers, which thus keep the first claim on shared memory. The loop over k is kept rolled: unrolled,
    its addresses, invariant across the chunks, would be hoisted out of the
    chunk loop and held in registers (ptxas then spills).

    With `threads-per-warp=1 warp-rows=1 warp-cols=1 shared-memory=false`
    (the CPU emulation of the CUDA target) a block is one thread running
    one warp's matrix operations, its tiles on the stack, so that
    `tptt-emulate-gpu-launches` can run the kernel on the CPU; in a
    cooperative loop, one thread runs each tile.

    ```mlir
    linalg.generic {indexing_maps = [(b, s, k, n) -> (b, s, k),
                                     (b, s, k, n) -> (k, n),
                                     (b, s, k, n) -> (b, s, n)], ...}
        ins(%x, %w : memref<?x?x128xf32>, memref<128x352xbf16>)
        outs(%y : memref<?x?x352xf32>) { ... extf, mulf, addf ... }
    // becomes (for M = b * s >= min-rows)
    gpu.launch blocks(...) in (%gx = ceildiv(352, 64), %gy = ceildiv(M, 64), ...)
               threads(...) in (%c128, %c1, %c1)
               workgroup(%tiles : memref<35360xi8, #gpu.address_space<workgroup>>) {
      %acc = scf.for %k0 = %c0 to %c128 step %c32 iter_args(...) {
        gpu.barrier
        ... stage A and W tiles as f32 ...
        gpu.barrier
        %a = gpu.subgroup_mma_load_matrix ... -> !gpu.mma_matrix<16x8xf32, "AOp">
        %b = gpu.subgroup_mma_load_matrix ... -> !gpu.mma_matrix<8x16xf32, "BOp">
        %c = gpu.subgroup_mma_compute %a, %b, %acc ...
      }
      gpu.subgroup_mma_store_matrix ...
      gpu.barrier
      ... y[i, j] += tile[i, j] ...
    }
    ```
  }];
  let options = [
    Option<"warpRows", "warp-rows", "int64_t", /*default=*/"2",
           "Warps along the rows of a block's tile">,
    Option<"warpCols", "warp-cols", "int64_t", /*default=*/"2",
           "Warps along the columns of a block's tile">,
    Option<"threadsPerWarp", "threads-per-warp", "int64_t", /*default=*/"32",
           "Threads that run one warp's matrix operations (1 when the "
           "launches are emulated on the CPU)">,
    Option<"minRows", "min-rows", "int64_t", /*default=*/"64",
           "The fewest rows (M) a contraction runs on tensor cores with">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Stage the tiles in shared memory (else on the stack of the "
           "thread, for the CPU emulation)">,
    Option<"cooperative", "cooperative", "bool", /*default=*/"true",
           "Also map the static f32 contractions inside cooperative loops "
           "(the operator's chunk products) to warp tiles in 3xTF32">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def TpttSinkReductionLoopsPass
    : Pass<"tptt-sink-reduction-loops", "::mlir::func::FuncOp"> {
  let summary = "Make the reduction loops of every linalg op its innermost";
  let description = [{
    Generalizes the named linalg ops and interchanges the loops of every
    `linalg.generic` so that its parallel loops come first (in their order)
    and its reduction loops last. The CUDA tail then turns an op into one
    parallel loop over all its parallel dimensions around sequential
    reductions: a projection `[B, S, K] x [K, N]` gets a thread per output
    element (B·S·N of them, also at decode, where B·S = 1) instead of one
    per row with the output dimension nested inside the reduction.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def TpttSplitAccumulationsPass
    : Pass<"tptt-split-accumulations", "::mlir::func::FuncOp"> {
  let summary = "Accumulate reductions in registers, split long ones across "
                "threads";
  let description = [{
    The CUDA tail's reductions: an outermost `scf.parallel` (one thread per
    iteration, see `tptt-map-parallel-loops-to-gpu`) whose body is an
    `scf.for` that accumulates into one element, loading it, adding to it
    and storing it back each step (a projection's output element after
    `tptt-sink-reduction-loops`), instead sums into a value the loop
    carries, and adds that sum to the element once, with a
    `memref.atomic_rmw addf`. The reduction is also split into S parts, a
    new parallel dimension of the loop, each summing ceil(K / S) steps:
    S = min(ceil(`min-threads` / iterations), ceil(K / `min-steps`)),
    computed at run time, so that a decode step's projections (B·S = 1: as
    many threads as output features) fill the GPU with threads that each
    stream a part of the weight columns. The element must be in its final
    buffer before the loop (the linalg lowering zero-fills it); the sum's
    order changes, and with S > 1 it varies between runs by rounding.

    ```mlir
    scf.parallel (%n) = (%c0) to (%N) step (%c1) {
      scf.for %k = %c0 to %K step %c1 {
        %y = memref.load %out[%n]
        ... %e = x[k] * w[k, n] ...
        %s = arith.addf %y, %e
        memref.store %s, %out[%n]
      }
    }
    // becomes
    scf.parallel (%part, %n) = (%c0, %c0) to (%S, %N) step (%c1, %c1) {
      %sum = scf.for %k = %part * %chunk to min((%part + 1) * %chunk, %K)
          step %c1 iter_args(%acc = %zero) {
        ... %e = x[k] * w[k, n] ...
        %s = arith.addf %acc, %e
        scf.yield %s
      }
      memref.atomic_rmw addf %sum, %out[%n]
    }
    ```
  }];
  let options = [
    Option<"minThreads", "min-threads", "int64_t", /*default=*/"65536",
           "Threads a split reduction aims for">,
    Option<"minSteps", "min-steps", "int64_t", /*default=*/"128",
           "Fewest reduction steps per part">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def TpttMapParallelLoopsToGpuPass
    : Pass<"tptt-map-parallel-loops-to-gpu", "::mlir::func::FuncOp"> {
  let summary = "Run the outermost parallel loops of a function as GPU kernels";
  let description = [{
    The mapping of the CUDA tail. Every outermost `scf.parallel` without
    reductions (the loops of the linalg ops, and the operator's own loop over
    batch x heads) becomes a `gpu.launch` of one-dimensional blocks, in one
    of two ways.

    A loop that holds parallel loops (the operator's, whose iteration runs a
    head's chunk scan: each chunk's products are parallel loops) becomes a
    *cooperative kernel*: one block of `cooperative-block-size` threads per
    iteration. The block's threads share the iteration's work: each nested
    parallel loop at block level (not inside another) is spread over them,
    thread t running iterations t, t + blockDim, … (numbered row-major), and
    a `gpu.barrier` follows it; block-level `memref.copy` ops become such
    loops too; any other block-level op that writes memory runs in thread 0
    alone, between barriers; sequential loops and branches around parallel
    loops run in every thread (their bounds are the block's, uniform), with a
    barrier before a parallel loop when the block read memory since the last
    one. The iteration's scratch buffers are shared by its block, and no
    kernel allocates: each allocation in the loop body becomes a
    `memref.view` (same type) either of the block's dynamic shared memory
    (through a generic pointer, `memref.memory_space_cast`), for the first
    ones of static size while they fit in `shared-memory-bytes` (the chunk
    scan's state first: it stays on chip across the chunk loop), or of the
    iteration's slice of one buffer allocated before the launch
    (`iterations` x the bytes of those buffers) and freed after it. Every
    view starts a multiple of 64 bytes into either: the launch asks for 64
    bytes more shared memory than its buffers take and starts them at its
    first 64-byte boundary (dynamic shared memory is only sure to be
    16-byte aligned; warp matrix loads need 32). A loop runs
    this way only when that is sound: its block-level allocations are sized
    outside it and freed only directly, in their own block (not through a
    buffer a loop carries, as the ownership-based deallocation of a loop
    that yields fresh buffers does), no block-level loop or branch yields a
    buffer (its iterations would share one slice), its nested parallel loops
    have no reductions, and every block-level op that writes memory and is
    not an `scf.for` / `scf.if` around parallel loops returns nothing.

    Any other loop runs one iteration per thread, in blocks of `block-size`
    threads: the loop's iterations are numbered row-major, thread
    `blockIdx.x * block-size + threadIdx.x` runs iteration number that, and
    the threads past the last iteration do nothing. Each thread runs its
    iteration's body as it stands: loops nested in it stay in it
    (`scf-parallel-for-to-nested-fors` makes the nested parallel ones
    sequential), its allocations come from the device heap, and the
    `memref.copy` ops in it become loops of loads and stores, since a kernel
    cannot call the host's `memrefCopy` (a copy of a buffer onto itself is
    dropped). Parallel loops with reductions stay on the host, whose buffers
    the runtime allocates in managed memory.

    Warp matrix operations (`gpu.subgroup_mma_*`, the warp tiles of
    `tptt-map-contractions-to-tensor-cores`) need the 32 threads of a warp
    together: a loop holding them that cannot run as a cooperative kernel,
    or a `cooperative-block-size` that is not a multiple of 32 (nor 1, as
    emulated), is an error.

    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) { ... }
    // becomes
    gpu.launch blocks(%bx, %by, %bz) in (%gx = ceildiv(n * 8, 256), ...)
               threads(%tx, %ty, %tz) in (%c256, %c1, %c1) {
      %id = bx * 256 + tx
      scf.if %id < n * 8 { %i = id / 8; %j = id % 8; ... }
    }

    scf.parallel (%h) = (%c0) to (%heads) step (%c1) {
      %s = memref.alloc() : memref<64x64xf32>
      scf.for %c = ... { scf.parallel (%i, %j) = ... { ... } ... }
    }
    // becomes
    %buffer = memref.alloc(heads * 16384) : memref<?xi8>
    gpu.launch blocks(%bx, ...) in (%gx = heads, ...)
               threads(%tx, ...) in (%c256, ...) {
      %s = memref.view %buffer[bx * 16384][] : memref<?xi8> to memref<64x64xf32>
      scf.for %c = ... {
        scf.for %t = %tx to %c4096 step %c256 { %i = t / 64; %j = t % 64; ... }
        gpu.barrier
        ...
      }
    }
    memref.dealloc %buffer : memref<?xi8>
    ```
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">,
    Option<"cooperativeBlockSize", "cooperative-block-size", "int64_t",
           /*default=*/"256", "Threads per block of a cooperative kernel">,
    Option<"sharedMemoryBytes", "shared-memory-bytes", "int64_t",
           /*default=*/"49152",
           "Shared memory a cooperative kernel's block may use for its "
           "buffers (0: none)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def TpttVerifyGpuKernelsPass
    : Pass<"tptt-verify-gpu-kernels", "::mlir::ModuleOp"> {
  let summary = "Check the backend contract of the GPU kernels";
  let description = [{
    Fails with an error naming the op or symbol when a kernel breaks the
    contract of the CUDA tail. Before serialization, the bodies of the
    `gpu.func` kernels may hold only ops the NVVM lowering turns into device
    code: no `memref.copy` (a call of the host's `memrefCopy`) and no calls
    of functions. After `gpu-module-to-binary`, the PTX of every
    `gpu.binary` may not declare an external `__nv_*` function: that is a
    libdevice function left unresolved (libdevice was not found), which
    would fail only when the driver loads the module.
  }];
}

def TpttEmulateGpuLaunchesPass
    : Pass<"tptt-emulate-gpu-launches", "::mlir::func::FuncOp"> {
  let summary = "Run gpu.launch bodies as parallel loops on the host";
  let description = [{
    Replaces every `gpu.launch` by an `scf.parallel` loop over its grid and
    block sizes (x, y, z of each) whose body is the launch's body, with the
    block and thread ids bound to the loop's induction variables and the
    grid and block sizes to the launch's operands. The CUDA target's
    kernels then compute on the CPU exactly what each thread would compute:
    `tptt-pipeline{target=cuda-on-cpu}` checks the GPU mapping numerically
    on machines without a GPU. Barriers are dropped where blocks have one
    thread (the cooperative kernels of `tptt-map-parallel-loops-to-gpu`
    with `cooperative-block-size=1`, whose one thread then runs all of its
    block's work in order); a launch with barriers and larger blocks, shared
    memory or an async token is rejected.

    A warp's matrix operations (`gpu.subgroup_mma_*`, from
    `tptt-map-contractions-to-tensor-cores` with `threads-per-warp=1`) run
    on whole matrices: each `!gpu.mma_matrix` becomes a vector of its shape,
    its loads and stores `vector.transfer_read`/`write` (the memref's rows
    must lie the op's leading dimension apart), the multiply-accumulate a
    `vector.contract`, a constant matrix a `vector.broadcast`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // TPTT_CODEGEN_PASSES_TD
