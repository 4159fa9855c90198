func.func @main(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  %w = arith.constant dense<[[1.0,2.0,3.0],[0.5,0.25,1.0],[1.0,1.0,1.0],[2.0,0.0,-1.0],[1.0,2.0,3.0],[0.5,0.25,1.0],[1.0,1.0,1.0],[2.0,0.0,-1.0]]> : tensor<8x3xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x3xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  %m = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m : tensor<4x3xf32>
}
