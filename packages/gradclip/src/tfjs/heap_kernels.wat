;; Two loops for float32 tensors on the tfjs wasm backend's heap (the memory is imported, so
;; they run on tensors in place). Nothing is written to memory except scale_into's output.
;;
;; scale_into: dst[i] = src[i] · s in one pass. gradclip's kernels.wat scales in place; a
;;   tensor result needs a fresh buffer, and copy + in-place scale would read and write the
;;   data twice. Same arithmetic as tf.mul and kernels.wat's scale_f32.
;; sumsq_max: Σ x² and max |x| (left in a global, read by last_max) in one pass. Each square
;;   is rounded to float32 before it is widened and added in float64: ≤ 2^-24 relative error
;;   per term, hence for the sum (all terms are ≥ 0) — below what the float32 result keeps —
;;   and one multiply instead of two widenings and two float64 multiplies per pair of values,
;;   which makes the pass memory-bound. Squares that overflow float32 (|x| ≥ 2^64) give
;;   Infinity and the caller falls back to the exact two-pass path; so does data whose largest
;;   |x| is below 2^-50, where float32 squares could underflow. max ignores NaN (as the JS
;;   kernels do); a NaN makes the sum NaN.
;;
;; Assembled into heap_kernels_wasm.generated.ts by heap_kernels.test.ts (which fails when the
;; two disagree; run it with GRADCLIP_REGENERATE_WASM=1 to rewrite the generated file).
(module
  (import "env" "memory" (memory 1))
  (global $max (mut f32) (f32.const 0))
  (func (export "last_max") (result f32) (global.get $max))
  (func (export "sumsq_max") (param $p i32) (param $n i32) (result f64)
    (local $vend i32) (local $end i32) (local $v v128) (local $q v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $m0 v128) (local $m1 v128)
    (local $x f32) (local $mx f32) (local $sum f64)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (local.set $v (v128.load align=4 (local.get $p)))
      (local.set $m0 (f32x4.pmax (local.get $m0) (f32x4.abs (local.get $v))))
      (local.set $q (f32x4.mul (local.get $v) (local.get $v)))
      (local.set $a0 (f64x2.add (local.get $a0) (f64x2.promote_low_f32x4 (local.get $q))))
      (local.set $a1 (f64x2.add (local.get $a1) (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q)))))
      (local.set $v (v128.load offset=16 align=4 (local.get $p)))
      (local.set $m1 (f32x4.pmax (local.get $m1) (f32x4.abs (local.get $v))))
      (local.set $q (f32x4.mul (local.get $v) (local.get $v)))
      (local.set $a2 (f64x2.add (local.get $a2) (f64x2.promote_low_f32x4 (local.get $q))))
      (local.set $a3 (f64x2.add (local.get $a3) (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q)))))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (br $loop)))
    (local.set $a0 (f64x2.add (f64x2.add (local.get $a0) (local.get $a1)) (f64x2.add (local.get $a2) (local.get $a3))))
    (local.set $sum (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0))))
    (local.set $m0 (f32x4.pmax (local.get $m0) (local.get $m1)))
    (local.set $mx (f32x4.extract_lane 0 (local.get $m0)))
    (local.set $x (f32x4.extract_lane 1 (local.get $m0)))
    (local.set $mx (select (local.get $x) (local.get $mx) (f32.gt (local.get $x) (local.get $mx))))
    (local.set $x (f32x4.extract_lane 2 (local.get $m0)))
    (local.set $mx (select (local.get $x) (local.get $mx) (f32.gt (local.get $x) (local.get $mx))))
    (local.set $x (f32x4.extract_lane 3 (local.get $m0)))
    (local.set $mx (select (local.get $x) (local.get $mx) (f32.gt (local.get $x) (local.get $mx))))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f32.load (local.get $p)))
      (local.set $sum (f64.add (local.get $sum) (f64.promote_f32 (f32.mul (local.get $x) (local.get $x)))))
      (local.set $x (f32.abs (local.get $x)))
      (local.set $mx (select (local.get $x) (local.get $mx) (f32.gt (local.get $x) (local.get $mx))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $tail)))
    (global.set $max (local.get $mx))
    (local.get $sum))
  (func (export "scale_into") (param $src i32) (param $dst i32) (param $n i32) (param $s f32)
    (local $vend i32) (local $end i32) (local $sv v128)
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $src) (local.get $vend)))
      (v128.store align=4 (local.get $dst) (f32x4.mul (v128.load align=4 (local.get $src)) (local.get $sv)))
      (v128.store offset=16 align=4 (local.get $dst) (f32x4.mul (v128.load offset=16 align=4 (local.get $src)) (local.get $sv)))
      (local.set $src (i32.add (local.get $src) (i32.const 32)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
      (br $loop)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $src) (local.get $end)))
      (f32.store (local.get $dst) (f32.mul (f32.load (local.get $src)) (local.get $s)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (br $tail))))
)
