//===- MapContractionsToTensorCores.cpp - Projections on tensor cores -----===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/CUDA/LoopUtils.h"
#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/MapVector.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTMAPCONTRACTIONSTOTENSORCORESPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

/// The tf32 tensor-core operation (wmma m16n16k8): 16×8 A fragments, 8×16 B
/// fragments, 16×16 accumulators.
constexpr int64_t kFragment = 16;
constexpr int64_t kFragmentDepth = 8;
/// A warp's part of the block's tile: 2×2 accumulators.
constexpr int64_t kWarpTile = 32;
/// The extent along k of the tiles staged per step of the reduction loop.
constexpr int64_t kDepth = 32;
/// Floats padding every shared-memory row, against bank conflicts.
constexpr int64_t kPad = 4;
/// The alignment (bytes) of a fragment's first element.
constexpr int64_t kFragmentAlignment = 32;

/// A contraction C[p..., n...] += A[p..., k] * W[k, n...] (or W[n..., k]):
/// `rowDims` dimensions p, `colDims` dimensions n.
struct Contraction {
  linalg::LinalgOp op;
  Value rows;
  Value weight;
  Value output;
  bool transposed;
  int64_t rowDims;
  int64_t colDims;
};

/// Whether `value` is `arg`, or `arg` widened by an arith.extf.
bool readsArgument(Value value, BlockArgument arg) {
  if (auto ext = value.getDefiningOp<arith::ExtFOp>())
    value = ext.getIn();
  return value == arg;
}

/// Whether the body of `op` is `out + in0 * in1`, each input possibly
/// widened, and nothing else.
bool isMultiplyAccumulate(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getNumOperands() != 1)
    return false;
  auto sum = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!sum)
    return false;
  BlockArgument lhs = body->getArgument(0), rhs = body->getArgument(1),
                out = body->getArgument(2);
  Value term;
  if (sum.getLhs() == out)
    term = sum.getRhs();
  else if (sum.getRhs() == out)
    term = sum.getLhs();
  else
    return false;
  auto product = term.getDefiningOp<arith::MulFOp>();
  if (!product)
    return false;
  bool reads = (readsArgument(product.getLhs(), lhs) &&
                readsArgument(product.getRhs(), rhs)) ||
               (readsArgument(product.getLhs(), rhs) &&
                readsArgument(product.getRhs(), lhs));
  return reads && llvm::all_of(body->without_terminator(), [&](Operation &o) {
           return &o == sum || &o == product || isa<arith::ExtFOp>(o);
         });
}

/// Whether `op`, on buffers, accumulates the products of its two inputs
/// over one reduction dimension into its output (both forms below start
/// from this).
bool isBufferContraction(linalg::LinalgOp op) {
  return op.hasPureBufferSemantics() && op.getNumDpsInputs() == 2 &&
         op.getNumDpsInits() == 1 && op.getNumReductionLoops() == 1 &&
         isMultiplyAccumulate(op);
}

/// The contraction `op` computes, if it is one this pass maps: not inside a
/// parallel loop (whose iterations become threads) or a kernel.
std::optional<Contraction> matchContraction(linalg::LinalgOp op) {
  if (op->getParentOfType<scf::ParallelOp>() ||
      op->getParentOfType<scf::ForallOp>() ||
      op->getParentOfType<gpu::LaunchOp>() || op.getNumLoops() < 3 ||
      !isBufferContraction(op))
    return std::nullopt;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  unsigned k = reductions.front();
  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap outputMap = op.getMatchingIndexingMap(init);
  if (!outputMap.isProjectedPermutation() ||
      outputMap.getNumResults() != op.getNumLoops() - 1 ||
      outputMap.isFunctionOfDim(k))
    return std::nullopt;
  // The rows operand reads (p..., k), p... a prefix of the output's
  // dimensions; the weight (k, n...) or (n..., k), n... the rest of them.
  AffineExpr kExpr = getAffineDimExpr(k, op.getContext());
  ArrayRef<AffineExpr> outputDims = outputMap.getResults();
  Contraction contraction{op, {}, {}, init->get(), false, 0, 0};
  OpOperand *rowsOperand = nullptr;
  for (OpOperand *input : op.getDpsInputOperands()) {
    ArrayRef<AffineExpr> dims = op.getMatchingIndexingMap(input).getResults();
    if (!dims.empty() && dims.back() == kExpr &&
        dims.size() <= outputDims.size() &&
        dims.drop_back() == outputDims.take_front(dims.size() - 1) &&
        !rowsOperand) {
      rowsOperand = input;
      contraction.rows = input->get();
      contraction.rowDims = dims.size() - 1;
    }
  }
  if (!rowsOperand || contraction.rowDims == 0)
    return std::nullopt;
  ArrayRef<AffineExpr> colDims = outputDims.drop_front(contraction.rowDims);
  contraction.colDims = colDims.size();
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (input == rowsOperand)
      continue;
    ArrayRef<AffineExpr> dims = op.getMatchingIndexingMap(input).getResults();
    if (dims.size() != colDims.size() + 1)
      return std::nullopt;
    contraction.weight = input->get();
    if (dims.front() == kExpr && dims.drop_front() == colDims)
      contraction.transposed = false;
    else if (dims.back() == kExpr && dims.drop_back() == colDims)
      contraction.transposed = true;
    else
      return std::nullopt;
  }
  // The weight: a static bf16 tensor; the rows: f32 (or bf16); the output:
  // f32. All three are collapsed to matrices, so contiguous.
  auto weightType = dyn_cast<MemRefType>(contraction.weight.getType());
  auto rowsType = dyn_cast<MemRefType>(contraction.rows.getType());
  auto outputType = dyn_cast<MemRefType>(contraction.output.getType());
  if (!weightType || !rowsType || !outputType ||
      !weightType.getElementType().isBF16() || !weightType.hasStaticShape() ||
      weightType.getNumElements() == 0 ||
      !outputType.getElementType().isF32() ||
      !isa<Float32Type, BFloat16Type>(rowsType.getElementType()) ||
      !rowsType.getLayout().isIdentity() ||
      !outputType.getLayout().isIdentity() ||
      !weightType.getLayout().isIdentity() || weightType.getMemorySpace() ||
      rowsType.getMemorySpace() || outputType.getMemorySpace())
    return std::nullopt;
  return contraction;
}

/// `buffer` as a matrix: its first `leading` dimensions collapsed into the
/// rows, the others into the columns.
Value collapseToMatrix(OpBuilder &b, Location loc, Value buffer,
                       int64_t leading) {
  int64_t rank = cast<MemRefType>(buffer.getType()).getRank();
  if (leading == 1 && rank == 2)
    return buffer;
  SmallVector<ReassociationIndices> reassociation = {
      llvm::to_vector(llvm::seq<int64_t>(0, leading)),
      llvm::to_vector(llvm::seq<int64_t>(leading, rank))};
  return memref::CollapseShapeOp::create(b, loc, buffer, reassociation);
}

/// The number of rows of the contraction, if static.
std::optional<int64_t> staticRows(const Contraction &contraction) {
  ArrayRef<int64_t> shape =
      cast<MemRefType>(contraction.rows.getType()).getShape();
  int64_t rows = 1;
  for (int64_t size : shape.take_front(contraction.rowDims)) {
    if (ShapedType::isDynamic(size))
      return std::nullopt;
    rows *= size;
  }
  return rows;
}

/// `x` rounded to tf32 (10 bits of mantissa), to nearest with ties away
/// from zero, as `cvt.rna.tf32.f32` does: the tensor cores would truncate
/// it, and the emulation then computes what they compute (up to the order
/// of the sums, since products of tf32 values are exact in f32). Infinities
/// and NaNs stay as they are.
Value roundToTf32(OpBuilder &b, Location loc, Value x) {
  Type i32 = b.getI32Type();
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantIntOp::create(b, loc, i32, value);
  };
  Value bits = arith::BitcastOp::create(b, loc, i32, x);
  Value half = constant(1 << 12);
  Value keep = constant(~int64_t((1 << 13) - 1) & 0xffffffff);
  Value rounded = arith::AndIOp::create(
      b, loc, arith::AddIOp::create(b, loc, bits, half), keep);
  Value exponentMask = constant(0x7f800000);
  Value exponent = arith::AndIOp::create(b, loc, bits, exponentMask);
  Value finite = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                       exponent, exponentMask);
  Value bitsOut = arith::SelectOp::create(b, loc, finite, rounded, bits);
  return arith::BitcastOp::create(b, loc, b.getF32Type(), bitsOut);
}

/// The bytes a block's tiles take (A: rows × (depth + pad), W: depth ×
/// (cols + pad), C: rows × (cols + pad) floats), and room to align the
/// first.
int64_t tileBytes(int64_t warpRows, int64_t warpCols) {
  int64_t rows = kWarpTile * warpRows, cols = kWarpTile * warpCols;
  int64_t floats =
      rows * (kDepth + kPad) + kDepth * (cols + kPad) + rows * (cols + kPad);
  return 4 * floats + kFragmentAlignment;
}

/// Builds the tensor-core kernel of one contraction.
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, const Contraction &contraction,
                const tptt::TpttMapContractionsToTensorCoresPassOptions &o)
      : b(b), loc(loc), contraction(contraction), options(o),
        tileRows(kWarpTile * o.warpRows), tileCols(kWarpTile * o.warpCols),
        threads(o.threadsPerWarp * o.warpRows * o.warpCols),
        leadA(kDepth + kPad), leadB(tileCols + kPad), leadC(tileCols + kPad) {}

  /// The launch computing `output` (M×N) += `rows` (M×K) · `weight` (K×N,
  /// or N×K when transposed).
  void build(Value rows, Value weight, Value output, Value m) {
    Value one = index(1);
    auto weightType = cast<MemRefType>(weight.getType());
    n = index(weightType.getDimSize(contraction.transposed ? 0 : 1));
    k = index(weightType.getDimSize(contraction.transposed ? 1 : 0));
    this->m = m;
    this->weight = weight;
    Value gridX = arith::CeilDivUIOp::create(b, loc, n, index(tileCols));
    Value gridY = arith::CeilDivUIOp::create(b, loc, m, index(tileRows));
    auto launch = gpu::LaunchOp::create(b, loc, gridX, gridY, one,
                                        index(threads), one, one);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPointToStart(&launch.getBody().front());
    thread = launch.getThreadIds().x;
    Value warp =
        arith::DivUIOp::create(b, loc, thread, index(options.threadsPerWarp));
    Value warpCols = index(options.warpCols);
    Value warpTile = index(kWarpTile);
    warpRow = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, warp, warpCols), warpTile);
    warpCol = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, warp, warpCols), warpTile);
    firstRow =
        arith::MulIOp::create(b, loc, launch.getBlockIds().y, index(tileRows));
    firstCol =
        arith::MulIOp::create(b, loc, launch.getBlockIds().x, index(tileCols));
    if (options.sharedMemory) {
      allocateTiles(launch.addWorkgroupAttribution(
          tilesType(gpu::AddressSpaceAttr::get(b.getContext(),
                                               gpu::AddressSpace::Workgroup)),
          loc));
      multiply(rows, output);
      return;
    }
    // Emulated: the tiles on the stack, released at the end of each block.
    auto scope = memref::AllocaScopeOp::create(b, loc, TypeRange{});
    b.setInsertionPointToStart(b.createBlock(&scope.getBodyRegion()));
    memref::AllocaScopeReturnOp::create(b, loc);
    b.setInsertionPointToStart(&scope.getBodyRegion().front());
    allocateTiles(memref::AllocaOp::create(b, loc, tilesType(Attribute())));
    multiply(rows, output);
  }

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  /// The buffer of the three tiles.
  MemRefType tilesType(Attribute memorySpace) {
    return MemRefType::get({tileBytes(options.warpRows, options.warpCols)},
                           b.getIntegerType(8), MemRefLayoutAttrInterface(),
                           memorySpace);
  }

  /// Views the tiles of A, W and C in `bytes`, the first at its first
  /// 32-byte boundary. Every tile has a multiple of 8 rows of a multiple of
  /// 4 floats, so the others (and every fragment) are aligned too.
  void allocateTiles(Value bytes) {
    Value shift =
        tptt::buildAlignmentPadding(b, loc, bytes, kFragmentAlignment);
    Attribute space = cast<MemRefType>(bytes.getType()).getMemorySpace();
    int64_t offset = 0;
    auto view = [&](int64_t rows, int64_t lead) -> Value {
      auto type = MemRefType::get({rows, lead}, b.getF32Type(),
                                  MemRefLayoutAttrInterface(), space);
      Value start = arith::AddIOp::create(b, loc, shift, index(4 * offset));
      offset += rows * lead;
      return memref::ViewOp::create(b, loc, type, bytes, start, ValueRange{});
    };
    tileA = view(tileRows, leadA);
    tileB = view(kDepth, leadB);
    tileC = view(tileRows, leadC);
  }

  /// Runs `body(e)` for the elements e in [0, count) of this thread: e =
  /// thread, thread + threads, ...
  void forEachElement(int64_t count, function_ref<void(Value)> body) {
    Value end = index(count);
    Value stride = index(threads);
    auto loop = scf::ForOp::create(b, loc, thread, end, stride);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  }

  /// Whether (i, j) lies in [0, rows) × [0, cols).
  Value isInside(Value i, Value j, Value rows, Value cols) {
    Value rowInside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i, rows);
    Value colInside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, cols);
    return arith::AndIOp::create(b, loc, rowInside, colInside);
  }

  /// `source[i, j]` as f32 (rounded to tf32, or widened from bf16), or 0 where
  /// (i, j) lies outside [0, rows) × [0, cols); the load reads a clamped, valid
  /// position.
  Value loadOrZero(Value source, Value i, Value j, Value rows, Value cols) {
    Value one = index(1);
    Value inside = isInside(i, j, rows, cols);
    Value lastRow = arith::SubIOp::create(b, loc, rows, one);
    Value row = arith::MinUIOp::create(b, loc, i, lastRow);
    Value lastCol = arith::SubIOp::create(b, loc, cols, one);
    Value col = arith::MinUIOp::create(b, loc, j, lastCol);
    Value value = memref::LoadOp::create(b, loc, source, ValueRange{row, col});
    value = value.getType().isF32()
                ? roundToTf32(b, loc, value)
                : arith::ExtFOp::create(b, loc, b.getF32Type(), value);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    return arith::SelectOp::create(b, loc, inside, value, zero);
  }

  /// Stages the tiles of A and W that start at `k0` along k.
  void stageTiles(Value rows, Value k0) {
    forEachElement(tileRows * kDepth, [&](Value e) {
      Value row = arith::DivUIOp::create(b, loc, e, index(kDepth));
      Value col = arith::RemUIOp::create(b, loc, e, index(kDepth));
      Value i = arith::AddIOp::create(b, loc, firstRow, row);
      Value j = arith::AddIOp::create(b, loc, k0, col);
      Value value = loadOrZero(rows, i, j, m, k);
      memref::StoreOp::create(b, loc, value, tileA, ValueRange{row, col});
    });
    // Consecutive threads read consecutive elements of the weight: along n,
    // or along k when it is stored transposed.
    forEachElement(kDepth * tileCols, [&](Value e) {
      bool along = !contraction.transposed;
      Value fastest = index(along ? tileCols : kDepth);
      Value major = arith::DivUIOp::create(b, loc, e, fastest);
      Value minor = arith::RemUIOp::create(b, loc, e, fastest);
      Value depth = along ? major : minor;
      Value col = along ? minor : major;
      Value i = arith::AddIOp::create(b, loc, k0, depth);
      Value j = arith::AddIOp::create(b, loc, firstCol, col);
      Value value = along ? loadOrZero(weight, i, j, k, n)
                          : loadOrZero(weight, j, i, n, k);
      memref::StoreOp::create(b, loc, value, tileB, ValueRange{depth, col});
    });
  }

  /// The warp's four k-steps on the staged tiles.
  SmallVector<Value> multiplyTiles(ValueRange accumulators) {
    MLIRContext *context = b.getContext();
    Type f32 = b.getF32Type();
    auto aType =
        gpu::MMAMatrixType::get({kFragment, kFragmentDepth}, f32, "AOp");
    auto bType =
        gpu::MMAMatrixType::get({kFragmentDepth, kFragment}, f32, "BOp");
    SmallVector<Value> results(accumulators);
    for (int64_t step = 0; step < kDepth; step += kFragmentDepth) {
      SmallVector<Value> as, bs;
      for (int64_t i = 0; i < kWarpTile / kFragment; ++i) {
        Value row =
            arith::AddIOp::create(b, loc, warpRow, index(i * kFragment));
        as.push_back(gpu::SubgroupMmaLoadMatrixOp::create(
            b, loc, aType, tileA, ValueRange{row, index(step)},
            IntegerAttr::get(IndexType::get(context), leadA), UnitAttr()));
      }
      for (int64_t j = 0; j < kWarpTile / kFragment; ++j) {
        Value col =
            arith::AddIOp::create(b, loc, warpCol, index(j * kFragment));
        bs.push_back(gpu::SubgroupMmaLoadMatrixOp::create(
            b, loc, bType, tileB, ValueRange{index(step), col},
            IntegerAttr::get(IndexType::get(context), leadB), UnitAttr()));
      }
      for (auto [i, a] : llvm::enumerate(as))
        for (auto [j, w] : llvm::enumerate(bs)) {
          Value &accumulator = results[i * bs.size() + j];
          accumulator = gpu::SubgroupMmaComputeOp::create(
              b, loc, accumulator.getType(), a, w, accumulator, UnitAttr(),
              UnitAttr());
        }
    }
    return results;
  }

  /// The kernel body: the reduction loop, then C += the accumulators.
  void multiply(Value rows, Value output) {
    auto cType =
        gpu::MMAMatrixType::get({kFragment, kFragment}, b.getF32Type(), "COp");
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    Value empty = gpu::SubgroupMmaConstantMatrixOp::create(b, loc, cType, zero);
    int64_t fragments = (kWarpTile / kFragment) * (kWarpTile / kFragment);
    Value start = index(0);
    Value depth = index(kDepth);
    auto loop = scf::ForOp::create(b, loc, start, k, depth,
                                   SmallVector<Value>(fragments, empty));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      // The previous step's fragment loads are done with the tiles.
      gpu::BarrierOp::create(b, loc);
      stageTiles(rows, loop.getInductionVar());
      gpu::BarrierOp::create(b, loc);
      scf::YieldOp::create(b, loc, multiplyTiles(loop.getRegionIterArgs()));
    }
    IntegerAttr leadAttr =
        IntegerAttr::get(IndexType::get(b.getContext()), leadC);
    for (int64_t f = 0; f < fragments; ++f) {
      int64_t i = f / (kWarpTile / kFragment), j = f % (kWarpTile / kFragment);
      Value row = arith::AddIOp::create(b, loc, warpRow, index(i * kFragment));
      Value col = arith::AddIOp::create(b, loc, warpCol, index(j * kFragment));
      gpu::SubgroupMmaStoreMatrixOp::create(b, loc, loop.getResult(f), tileC,
                                            ValueRange{row, col}, leadAttr,
                                            UnitAttr());
    }
    gpu::BarrierOp::create(b, loc);
    forEachElement(tileRows * tileCols, [&](Value e) {
      Value row = arith::DivUIOp::create(b, loc, e, index(tileCols));
      Value col = arith::RemUIOp::create(b, loc, e, index(tileCols));
      Value i = arith::AddIOp::create(b, loc, firstRow, row);
      Value j = arith::AddIOp::create(b, loc, firstCol, col);
      auto store = scf::IfOp::create(b, loc, isInside(i, j, m, n));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(store.thenBlock()->getTerminator());
      Value old = memref::LoadOp::create(b, loc, output, ValueRange{i, j});
      Value part = memref::LoadOp::create(b, loc, tileC, ValueRange{row, col});
      Value sum = arith::AddFOp::create(b, loc, old, part);
      memref::StoreOp::create(b, loc, sum, output, ValueRange{i, j});
    });
  }

  OpBuilder &b;
  Location loc;
  const Contraction &contraction;
  const tptt::TpttMapContractionsToTensorCoresPassOptions &options;
  int64_t tileRows, tileCols, threads, leadA, leadB, leadC;
  Value m, n, k, weight, thread, warpRow, warpCol, firstRow, firstCol;
  Value tileA, tileB, tileC;
};

//===----------------------------------------------------------------------===//
// Contractions inside cooperative kernels: warp-level 3xTF32 tiles
//===----------------------------------------------------------------------===//

/// A contraction C[i, j] += A[i, k] * B[k, j] of static f32 buffers inside
/// an scf.forall that becomes a cooperative kernel (the operator's chunk
/// products), each operand read through its own permutation of its two
/// loop dimensions.
struct BlockContraction {
  linalg::LinalgOp op;
  /// The loop dimensions i, j and k, and their sizes.
  unsigned rowDim, colDim, depthDim;
  int64_t rows, cols, depth;
};

/// The contraction `op` computes, if it is one the warp-level form maps:
/// every size a multiple of the fragments' (16 rows, 16 columns, 8 along
/// k).
std::optional<BlockContraction> matchBlockContraction(linalg::LinalgOp op) {
  if (!op->getParentOfType<scf::ForallOp>() ||
      op->getParentOfType<scf::ParallelOp>() ||
      op->getParentOfType<gpu::LaunchOp>() || op.getNumLoops() != 3 ||
      !isBufferContraction(op))
    return std::nullopt;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!type || !type.getElementType().isF32() || type.getMemorySpace() ||
        map.getNumResults() != 2 || !map.isProjectedPermutation())
      return std::nullopt;
  }
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || !dims->batch.empty() || dims->m.size() != 1 ||
      dims->n.size() != 1 || dims->k.size() != 1)
    return std::nullopt;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  BlockContraction contraction{op,
                               dims->m.front(),
                               dims->n.front(),
                               dims->k.front(),
                               sizes[dims->m.front()],
                               sizes[dims->n.front()],
                               sizes[dims->k.front()]};
  if (ShapedType::isDynamic(contraction.rows) ||
      ShapedType::isDynamic(contraction.cols) ||
      ShapedType::isDynamic(contraction.depth) ||
      contraction.rows % kFragment != 0 || contraction.cols % kFragment != 0 ||
      contraction.depth % kFragmentDepth != 0)
    return std::nullopt;
  return contraction;
}

/// The staging buffers that the warp-level contractions of one cooperative
/// loop share (they run one after the other): the big and small tf32 parts
/// of A (rows × (depth + pad)) and B (depth × (cols + pad)) and the
/// results (rows × (cols + pad)), each as bytes, sized for the largest.
struct StagingBuffers {
  Value aBig, aSmall, bBig, bSmall, c;
};

/// Builds the warp-level form of the contractions of one cooperative loop.
class BlockContractionBuilder {
public:
  explicit BlockContractionBuilder(int64_t threadsPerWarp)
      : threadsPerWarp(threadsPerWarp) {}

  /// Allocates the staging buffers of `contractions` (all in `forall`)
  /// before the first of them, freed at the end of the loop's body.
  void allocate(scf::ForallOp forall, ArrayRef<BlockContraction> contractions) {
    int64_t aFloats = 0, bFloats = 0, cFloats = 0;
    for (const BlockContraction &c : contractions) {
      aFloats = std::max(aFloats, c.rows * (c.depth + kPad));
      bFloats = std::max(bFloats, c.depth * (c.cols + kPad));
      cFloats = std::max(cFloats, c.rows * (c.cols + kPad));
    }
    Block *body = forall.getBody();
    Operation *first = body->findAncestorOpInBlock(*contractions.front().op);
    OpBuilder b(first);
    Location loc = forall.getLoc();
    auto allocate = [&](int64_t floats) -> Value {
      auto type = MemRefType::get({4 * floats}, b.getI8Type());
      return memref::AllocOp::create(b, loc, type,
                                     b.getI64IntegerAttr(kFragmentAlignment));
    };
    buffers.aBig = allocate(aFloats);
    buffers.aSmall = allocate(aFloats);
    buffers.bBig = allocate(bFloats);
    buffers.bSmall = allocate(bFloats);
    buffers.c = allocate(cFloats);
    b.setInsertionPoint(body->getTerminator());
    for (Value buffer : {buffers.aBig, buffers.aSmall, buffers.bBig,
                         buffers.bSmall, buffers.c})
      memref::DeallocOp::create(b, loc, buffer);
  }

  /// Replaces `contraction` by its staging, its warp tiles and the update
  /// of C.
  void rewrite(const BlockContraction &contraction) {
    linalg::LinalgOp op = contraction.op;
    OpBuilder b(op);
    Location loc = op.getLoc();
    int64_t leadA = contraction.depth + kPad;
    int64_t leadB = contraction.cols + kPad;
    int64_t leadC = contraction.cols + kPad;
    Value aBig = view(b, loc, buffers.aBig, contraction.rows, leadA);
    Value aSmall = view(b, loc, buffers.aSmall, contraction.rows, leadA);
    Value bBig = view(b, loc, buffers.bBig, contraction.depth, leadB);
    Value bSmall = view(b, loc, buffers.bSmall, contraction.depth, leadB);
    Value c = view(b, loc, buffers.c, contraction.rows, leadC);
    OpOperand *a = op.getDpsInputOperand(0);
    OpOperand *w = op.getDpsInputOperand(1);
    stage(b, loc, op, a, contraction.rowDim, contraction.depthDim, aBig,
          aSmall);
    stage(b, loc, op, w, contraction.depthDim, contraction.colDim, bBig,
          bSmall);
    multiply(b, loc, contraction, aBig, aSmall, bBig, bSmall, c, leadA, leadB,
             leadC);
    accumulate(b, loc, contraction, c);
    op->erase();
  }

private:
  static Value index(OpBuilder &b, Location loc, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  /// `bytes` as a rows × lead matrix of f32.
  static Value view(OpBuilder &b, Location loc, Value bytes, int64_t rows,
                    int64_t lead) {
    auto type = MemRefType::get({rows, lead}, b.getF32Type());
    return memref::ViewOp::create(b, loc, type, bytes, index(b, loc, 0),
                                  ValueRange{});
  }

  /// A parallel loop over the two loop dimensions that `operand` of `op`
  /// reads, in its order (consecutive threads read consecutive elements);
  /// `body` gets the values of loop dimensions `first` and `second`.
  static void forEachElement(OpBuilder &b, Location loc, linalg::LinalgOp op,
                             OpOperand *operand, unsigned first,
                             unsigned second,
                             function_ref<void(Value, Value)> body) {
    AffineMap map = op.getMatchingIndexingMap(operand);
    SmallVector<int64_t> sizes = op.getStaticLoopRanges();
    SmallVector<Value> upper;
    for (AffineExpr expr : map.getResults())
      upper.push_back(
          index(b, loc, sizes[cast<AffineDimExpr>(expr).getPosition()]));
    Value zero = index(b, loc, 0), one = index(b, loc, 1);
    auto loop = scf::ParallelOp::create(b, loc, ValueRange{zero, zero}, upper,
                                        ValueRange{one, one});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    auto valueOf = [&](unsigned dim) -> Value {
      AffineExpr expr = getAffineDimExpr(dim, b.getContext());
      return loop.getInductionVars()[*map.getResultPosition(expr)];
    };
    body(valueOf(first), valueOf(second));
  }

  /// The indices of `operand` at loop position (`first` = x, the other
  /// dimension = y).
  static SmallVector<Value> indicesOf(linalg::LinalgOp op, OpOperand *operand,
                                      unsigned first, Value x, Value y) {
    SmallVector<Value> indices;
    for (AffineExpr expr : op.getMatchingIndexingMap(operand).getResults())
      indices.push_back(cast<AffineDimExpr>(expr).getPosition() == first ? x
                                                                         : y);
    return indices;
  }

  /// Stages `operand` (loop dimensions `rowDim` × `colDim`) as its big and
  /// small tf32 parts: big = tf32(x), small = tf32(x − big).
  static void stage(OpBuilder &b, Location loc, linalg::LinalgOp op,
                    OpOperand *operand, unsigned rowDim, unsigned colDim,
                    Value big, Value small) {
    forEachElement(b, loc, op, operand, rowDim, colDim, [&](Value i, Value j) {
      Value x = memref::LoadOp::create(b, loc, operand->get(),
                                       indicesOf(op, operand, rowDim, i, j));
      Value high = roundToTf32(b, loc, x);
      Value low = roundToTf32(b, loc, arith::SubFOp::create(b, loc, x, high));
      memref::StoreOp::create(b, loc, high, big, ValueRange{i, j});
      memref::StoreOp::create(b, loc, low, small, ValueRange{i, j});
    });
  }

  /// The warp tiles: a parallel loop over the 16×16 tiles of C and the
  /// threads of a warp (numbered fastest, so that a warp's threads share a
  /// tile), each tile summing over k the products small·big, big·small and
  /// big·big of its fragments into `c`.
  void multiply(OpBuilder &b, Location loc, const BlockContraction &contraction,
                Value aBig, Value aSmall, Value bBig, Value bSmall, Value c,
                int64_t leadA, int64_t leadB, int64_t leadC) {
    MLIRContext *context = b.getContext();
    Type f32 = b.getF32Type();
    int64_t tileCols = contraction.cols / kFragment;
    int64_t tiles = contraction.rows / kFragment * tileCols;
    Value zero = index(b, loc, 0), one = index(b, loc, 1);
    auto loop = scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero},
        ValueRange{index(b, loc, tiles), index(b, loc, threadsPerWarp)},
        ValueRange{one, one});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value tile = loop.getInductionVars()[0];
    Value fragment = index(b, loc, kFragment);
    Value row = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, tile, index(b, loc, tileCols)),
        fragment);
    Value col = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, tile, index(b, loc, tileCols)),
        fragment);
    auto aType =
        gpu::MMAMatrixType::get({kFragment, kFragmentDepth}, f32, "AOp");
    auto bType =
        gpu::MMAMatrixType::get({kFragmentDepth, kFragment}, f32, "BOp");
    auto cType = gpu::MMAMatrixType::get({kFragment, kFragment}, f32, "COp");
    auto lead = [&](int64_t value) {
      return IntegerAttr::get(IndexType::get(context), value);
    };
    Value zeroFloat = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    Value empty =
        gpu::SubgroupMmaConstantMatrixOp::create(b, loc, cType, zeroFloat);
    auto steps =
        scf::ForOp::create(b, loc, zero, index(b, loc, contraction.depth),
                           index(b, loc, kFragmentDepth), empty);
    // Unrolled, the steps' addresses (invariant across the chunks) would be
    // hoisted out of the chunk loop and held in registers throughout.
    auto noUnroll = LLVM::LoopUnrollAttr::get(context, b.getBoolAttr(true), {},
                                              {}, {}, {}, {}, {});
    steps->setAttr("loop_annotation", LLVM::LoopAnnotationAttr::get(
                                          context, {}, {}, {}, noUnroll, {}, {},
                                          {}, {}, {}, {}, {}, {}, {}, {}, {}));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(steps.getBody());
      Value k = steps.getInductionVar();
      auto loadA = [&](Value source) -> Value {
        return gpu::SubgroupMmaLoadMatrixOp::create(
            b, loc, aType, source, ValueRange{row, k}, lead(leadA), UnitAttr());
      };
      auto loadB = [&](Value source) -> Value {
        return gpu::SubgroupMmaLoadMatrixOp::create(
            b, loc, bType, source, ValueRange{k, col}, lead(leadB), UnitAttr());
      };
      Value highA = loadA(aBig);
      Value lowA = loadA(aSmall);
      Value highB = loadB(bBig);
      Value lowB = loadB(bSmall);
      // The small products first, so that they are not lost in the sum.
      Value sum = steps.getRegionIterArgs().front();
      for (auto [left, right] : {std::pair(lowA, highB), std::pair(highA, lowB),
                                 std::pair(highA, highB)})
        sum = gpu::SubgroupMmaComputeOp::create(b, loc, cType, left, right, sum,
                                                UnitAttr(), UnitAttr());
      scf::YieldOp::create(b, loc, sum);
    }
    gpu::SubgroupMmaStoreMatrixOp::create(b, loc, steps.getResult(0), c,
                                          ValueRange{row, col}, lead(leadC),
                                          UnitAttr());
  }

  /// C += the staged results, over C's own dimensions (coalesced).
  static void accumulate(OpBuilder &b, Location loc,
                         const BlockContraction &contraction, Value c) {
    linalg::LinalgOp op = contraction.op;
    OpOperand *output = op.getDpsInitOperand(0);
    unsigned rowDim = contraction.rowDim;
    forEachElement(
        b, loc, op, output, rowDim, contraction.colDim, [&](Value i, Value j) {
          SmallVector<Value> indices = indicesOf(op, output, rowDim, i, j);
          Value old = memref::LoadOp::create(b, loc, output->get(), indices);
          Value part = memref::LoadOp::create(b, loc, c, ValueRange{i, j});
          Value sum = arith::AddFOp::create(b, loc, old, part);
          memref::StoreOp::create(b, loc, sum, output->get(), indices);
        });
  }

  int64_t threadsPerWarp;
  StagingBuffers buffers;
};

struct TpttMapContractionsToTensorCoresPass
    : public tptt::impl::TpttMapContractionsToTensorCoresPassBase<
          TpttMapContractionsToTensorCoresPass> {
  using Base::Base;

  void runOnOperation() override {
    if (warpRows < 1 || warpCols < 1 || threadsPerWarp < 1 || minRows < 1) {
      getOperation().emitError(
          "tptt-map-contractions-to-tensor-cores: warp-rows, warp-cols, "
          "threads-per-warp and min-rows must be positive");
      return signalPassFailure();
    }
    // A kernel's static shared memory may not exceed 48 KiB.
    int64_t bytes = tileBytes(warpRows, warpCols);
    if (sharedMemory && bytes > 48 * 1024) {
      getOperation().emitError("tptt-map-contractions-to-tensor-cores: the "
                               "tiles of ")
          << warpRows.getValue() << " x " << warpCols.getValue()
          << " warps take " << bytes
          << " bytes of shared memory, more than the 49152 a block has";
      return signalPassFailure();
    }
    SmallVector<Contraction> contractions;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (std::optional<Contraction> contraction = matchContraction(op))
        if (staticRows(*contraction).value_or(minRows) >= minRows)
          contractions.push_back(*contraction);
    });
    for (const Contraction &contraction : contractions)
      rewrite(contraction);
    if (cooperative)
      rewriteBlockContractions();
  }

  /// Maps the contractions inside cooperative loops to warp tiles.
  void rewriteBlockContractions() {
    llvm::MapVector<Operation *, SmallVector<BlockContraction>> perLoop;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (std::optional<BlockContraction> contraction =
              matchBlockContraction(op))
        perLoop[op->getParentOfType<scf::ForallOp>()].push_back(*contraction);
    });
    for (auto &[loop, contractions] : perLoop) {
      if (!tptt::canRunCooperatively(loop))
        continue;
      BlockContractionBuilder builder(threadsPerWarp);
      builder.allocate(cast<scf::ForallOp>(loop), contractions);
      for (const BlockContraction &contraction : contractions)
        builder.rewrite(contraction);
    }
  }

  /// Replaces the contraction by its kernel, behind a check of its number of
  /// rows when that is known only at run time.
  void rewrite(const Contraction &contraction) {
    Operation *op = contraction.op;
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value rows =
        collapseToMatrix(b, loc, contraction.rows, contraction.rowDims);
    Value weight =
        collapseToMatrix(b, loc, contraction.weight,
                         contraction.transposed ? contraction.colDims : 1);
    Value output =
        collapseToMatrix(b, loc, contraction.output, contraction.rowDims);
    Value m = memref::DimOp::create(b, loc, rows, 0);
    tptt::TpttMapContractionsToTensorCoresPassOptions options;
    options.warpRows = warpRows;
    options.warpCols = warpCols;
    options.threadsPerWarp = threadsPerWarp;
    options.minRows = minRows;
    options.sharedMemory = sharedMemory;
    KernelBuilder kernel(b, loc, contraction, options);
    if (staticRows(contraction)) {
      kernel.build(rows, weight, output, m);
      op->erase();
      return;
    }
    Value fewest = arith::ConstantIndexOp::create(b, loc, minRows);
    Value enough =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, m, fewest);
    auto branch = scf::IfOp::create(b, loc, enough, /*withElseRegion=*/true);
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    kernel.build(rows, weight, output, m);
    op->moveBefore(branch.elseBlock()->getTerminator());
  }
};

} // namespace
