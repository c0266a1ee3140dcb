// The input cotangent of a projection is the projection by the same weight
// read the other way round (what the VJP rule of tptt.linear emits).
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd --backward bwd --inputs x=2x3x4,w=4x5 --wrt x

func.func @fwd(%x: tensor<?x?x4xf64>, %w: tensor<4x5xf64>) -> tensor<?x?x5xf64> {
  %y = tptt.linear %x, %w transposed_weight {scale = 2.0 : f64} : (tensor<?x?x4xf64>, tensor<4x5xf64>) -> tensor<?x?x5xf64>
  return %y : tensor<?x?x5xf64>
}

func.func @bwd(%x: tensor<?x?x4xf64>, %w: tensor<4x5xf64>, %dy: tensor<?x?x5xf64>) -> tensor<?x?x4xf64> {
  %dx = tptt.linear %dy, %w {scale = 2.0 : f64} : (tensor<?x?x5xf64>, tensor<4x5xf64>) -> tensor<?x?x4xf64>
  return %dx : tensor<?x?x4xf64>
}
