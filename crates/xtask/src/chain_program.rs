//! The MLIR of IREE's side of the per-dispatch benchmarks: `n` tiny elementwise dispatches on a
//! 64-float tensor, one after another. Each is its own `flow.dispatch.region`, so IREE neither
//! fuses them nor splits the chain: they stay in one command buffer as `n` dispatches separated
//! by barriers, the shape our benchmarks record.

use std::fmt::Write as _;

/// The program `@chain(%arg0: tensor<64xf32>) -> tensor<64xf32>` of `n` dispatches (n ≥ 1);
/// even-numbered ones compute `x * 1.0001 + 0.5`, odd ones `x - 0.25`.
pub(crate) fn chain_mlir(n: usize) -> String {
    const TENSOR: &str = "tensor<64xf32>";
    let mut text = String::new();
    let _ = writeln!(
        text,
        "// {n} dispatches, each a flow.dispatch.region on {TENSOR}."
    );
    let _ = writeln!(text, "#identity = affine_map<(i) -> (i)>");
    let _ = writeln!(text, "func.func @chain(%arg0: {TENSOR}) -> {TENSOR} {{");
    let mut value = "%arg0".to_string();
    for index in 0..n {
        let body = if index % 2 == 0 {
            "      %scale = arith.constant 1.0001 : f32\n      \
             %scaled = arith.mulf %x, %scale : f32\n      \
             %bias = arith.constant 0.5 : f32\n      \
             %y = arith.addf %scaled, %bias : f32"
        } else {
            "      %step = arith.constant 0.25 : f32\n      \
             %y = arith.subf %x, %step : f32"
        };
        let _ = write!(
            text,
            "  %d{index} = flow.dispatch.region -> ({TENSOR}) {{\n    \
             %init = tensor.empty() : {TENSOR}\n    \
             %out = linalg.generic {{indexing_maps = [#identity, #identity], \
             iterator_types = [\"parallel\"]}} ins({value} : {TENSOR}) outs(%init : {TENSOR}) {{\n    \
             ^bb0(%x: f32, %unused: f32):\n{body}\n      \
             linalg.yield %y : f32\n    \
             }} -> {TENSOR}\n    \
             flow.return %out : {TENSOR}\n  \
             }}\n"
        );
        value = format!("%d{index}");
    }
    let _ = writeln!(text, "  return {value} : {TENSOR}");
    let _ = writeln!(text, "}}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_has_n_regions_alternating_bodies_and_returns_the_last() {
        let text = chain_mlir(3);
        assert_eq!(text.matches("flow.dispatch.region ->").count(), 3);
        assert_eq!(text.matches("arith.mulf").count(), 2);
        assert_eq!(text.matches("arith.subf").count(), 1);
        assert!(text.contains("ins(%d1 : tensor<64xf32>)"), "{text}");
        assert!(text.contains("return %d2 : tensor<64xf32>"), "{text}");
    }
}
