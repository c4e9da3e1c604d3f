;; gradclip's WASM SIMD kernels: the hot loops of gradient clipping, for float32 and float64.
;;
;; Assembled by packages/gradclip/scripts/build-wasm.mjs (wabt) into wasm_binary.generated.ts.
;; Memory is imported so that each "gradient arena" can run the same module on its own,
;; never-growing memory (a memory that grows detaches every view the user holds).
;;
;; Calling convention: pointers are byte offsets, n is a count of elements. Kernels with more
;; than one result return the first and store the others in a 64-byte header at the address
;; the instance imports as env.header (each thread of a threaded arena has its own):
;;   [0] f64  max |x|  (or max finite |x|)      [8] f64  NaN count      [16] f64  ±Inf count
;;
;; Numerics (kept identical to the plain-JS kernels in js.ts, up to summation order):
;; - sums of |x|^p widen every float32 to float64 first, so squares of float32 values can
;;   neither overflow nor underflow, and accumulate in float64 (independent f64x2 accumulators:
;;   16 lanes for float32, 8 for float64, which also hides the add latency);
;; - max uses pmax (a < b ? b : a), which ignores a NaN in the data, as the JS `a > max` test does,
;;   except in the float32 pow loops, the hot ones, which compare the bit patterns of |x| as
;;   unsigned integers (same order as the floats for |x| ≥ 0, and cheaper); a NaN wins that
;;   comparison, and then (only for data with a NaN) they take the NaN-ignoring max from
;;   finite_f32 instead, so every kernel keeps the same contract (they may leave finite_f32's
;;   counts in the header);
;; - scale multiplies float32 data by a float32 factor (exact product, one rounding: the
;;   same bits as JS `x[i] * Math.fround(s)` stored into a Float32Array, and as PyTorch);
;; - clamp uses pmin / pmax, so NaN stays NaN and ±Infinity becomes ±c.
;; Unaligned addresses are fine: v128.load / store have no alignment requirement.
(module
  (import "env" "memory" (memory 1))
  (import "env" "header" (global $header i32))

  ;; ---------------------------------------------------------------- Σ x², max |x|
  ;; The float32 loops take 16 values (64 bytes) per iteration: each pair of floats is loaded
  ;; with load64_zero and widened straight away (cvtps2pd from memory on x64, no shuffle), into
  ;; 8 accumulators of 2 lanes, so the pass keeps up with memory bandwidth; max |x| compares the
  ;; bits of |x| as u32 on full 16-byte loads (same order as the floats for |x| ≥ 0).
  (func (export "pow2_f32") (param $p i32) (param $n i32) (result f64)
    (local $vend i32) (local $end i32) (local $w v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $s4 v128) (local $s5 v128) (local $s6 v128) (local $s7 v128)
    (local $p0 i32) (local $mask v128) (local $m0 v128) (local $m1 v128) (local $x f32) (local $a f64) (local $sum f64) (local $mx f32)
    (local.set $p0 (local.get $p))
    (local.set $mask (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=0 align=4 (local.get $p))))
      (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 align=4 (local.get $p))))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 align=4 (local.get $p))))
      (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 align=4 (local.get $p))))
      (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=32 align=4 (local.get $p))))
      (local.set $s4 (f64x2.add (local.get $s4) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=40 align=4 (local.get $p))))
      (local.set $s5 (f64x2.add (local.get $s5) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=48 align=4 (local.get $p))))
      (local.set $s6 (f64x2.add (local.get $s6) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero offset=56 align=4 (local.get $p))))
      (local.set $s7 (f64x2.add (local.get $s7) (f64x2.mul (local.get $w) (local.get $w))))
      (local.set $m0 (i32x4.max_u (local.get $m0) (i32x4.max_u
        (v128.and (v128.load offset=0 align=4 (local.get $p)) (local.get $mask))
        (v128.and (v128.load offset=16 align=4 (local.get $p)) (local.get $mask)))))
      (local.set $m1 (i32x4.max_u (local.get $m1) (i32x4.max_u
        (v128.and (v128.load offset=32 align=4 (local.get $p)) (local.get $mask))
        (v128.and (v128.load offset=48 align=4 (local.get $p)) (local.get $mask)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $loop)))
    (local.set $mx (f32.reinterpret_i32 (call $hmax_u32 (i32x4.max_u (local.get $m0) (local.get $m1)))))
    (local.set $sum (call $hsum8 (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3)
                                 (local.get $s4) (local.get $s5) (local.get $s6) (local.get $s7)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f32.abs (f32.load (local.get $p))))
      (local.set $a (f64.promote_f32 (local.get $x)))
      (local.set $sum (f64.add (local.get $sum) (f64.mul (local.get $a) (local.get $a))))
      (local.set $mx (select (local.get $x) (local.get $mx) (f32.gt (local.get $x) (local.get $mx))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $tail)))
    ;; A NaN won the integer max: take max |x| over the non-NaN values from finite_f32 instead.
    (if (f32.ne (local.get $mx) (local.get $mx))
      (then (local.set $mx (f32.demote_f64 (call $finite_f32 (local.get $p0) (local.get $n))))
            (if (f64.gt (f64.load offset=16 (global.get $header)) (f64.const 0)) (then (local.set $mx (f32.const inf))))))
    (f64.store (global.get $header) (f64.promote_f32 (local.get $mx)))
    (local.get $sum))

  (func (export "pow2_f64") (param $p i32) (param $n i32) (result f64)
    (local $vend i32) (local $end i32) (local $v v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $m0 v128) (local $m1 v128) (local $x f64) (local $sum f64) (local $mx f64)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 3))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (local.set $v (v128.load offset=0 align=8 (local.get $p)))
      (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $v) (local.get $v))))
      (local.set $m0 (f64x2.pmax (local.get $m0) (f64x2.abs (local.get $v))))
      (local.set $v (v128.load offset=16 align=8 (local.get $p)))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $v) (local.get $v))))
      (local.set $m1 (f64x2.pmax (local.get $m1) (f64x2.abs (local.get $v))))
      (local.set $v (v128.load offset=32 align=8 (local.get $p)))
      (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $v) (local.get $v))))
      (local.set $m0 (f64x2.pmax (local.get $m0) (f64x2.abs (local.get $v))))
      (local.set $v (v128.load offset=48 align=8 (local.get $p)))
      (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $v) (local.get $v))))
      (local.set $m1 (f64x2.pmax (local.get $m1) (f64x2.abs (local.get $v))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $loop)))
    (local.set $mx (call $hmax_f64 (f64x2.pmax (local.get $m0) (local.get $m1))))
    (local.set $sum (call $hsum (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f64.abs (f64.load (local.get $p))))
      (local.set $sum (f64.add (local.get $sum) (f64.mul (local.get $x) (local.get $x))))
      (local.set $mx (select (local.get $x) (local.get $mx) (f64.gt (local.get $x) (local.get $mx))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $tail)))
    (f64.store (global.get $header) (local.get $mx))
    (local.get $sum))

  ;; ---------------------------------------------------------------- Σ |x|, max |x|
  (func (export "pow1_f32") (param $p i32) (param $n i32) (result f64)
    (local $vend i32) (local $end i32) (local $w v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $s4 v128) (local $s5 v128) (local $s6 v128) (local $s7 v128)
    (local $p0 i32) (local $mask v128) (local $m0 v128) (local $m1 v128) (local $x f32) (local $a f64) (local $sum f64) (local $mx f32)
    (local.set $p0 (local.get $p))
    (local.set $mask (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (local.set $s0 (f64x2.add (local.get $s0) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=0 align=4 (local.get $p))))))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 align=4 (local.get $p))))))
      (local.set $s2 (f64x2.add (local.get $s2) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 align=4 (local.get $p))))))
      (local.set $s3 (f64x2.add (local.get $s3) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 align=4 (local.get $p))))))
      (local.set $s4 (f64x2.add (local.get $s4) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=32 align=4 (local.get $p))))))
      (local.set $s5 (f64x2.add (local.get $s5) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=40 align=4 (local.get $p))))))
      (local.set $s6 (f64x2.add (local.get $s6) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=48 align=4 (local.get $p))))))
      (local.set $s7 (f64x2.add (local.get $s7) (f64x2.abs (f64x2.promote_low_f32x4 (v128.load64_zero offset=56 align=4 (local.get $p))))))
      (local.set $m0 (i32x4.max_u (local.get $m0) (i32x4.max_u
        (v128.and (v128.load offset=0 align=4 (local.get $p)) (local.get $mask))
        (v128.and (v128.load offset=16 align=4 (local.get $p)) (local.get $mask)))))
      (local.set $m1 (i32x4.max_u (local.get $m1) (i32x4.max_u
        (v128.and (v128.load offset=32 align=4 (local.get $p)) (local.get $mask))
        (v128.and (v128.load offset=48 align=4 (local.get $p)) (local.get $mask)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $loop)))
    (local.set $mx (f32.reinterpret_i32 (call $hmax_u32 (i32x4.max_u (local.get $m0) (local.get $m1)))))
    (local.set $sum (call $hsum8 (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3)
                                 (local.get $s4) (local.get $s5) (local.get $s6) (local.get $s7)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f32.abs (f32.load (local.get $p))))
      (local.set $a (f64.promote_f32 (local.get $x)))
      (local.set $sum (f64.add (local.get $sum) (local.get $a)))
      (local.set $mx (select (local.get $x) (local.get $mx) (f32.gt (local.get $x) (local.get $mx))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $tail)))
    ;; A NaN won the integer max: take max |x| over the non-NaN values from finite_f32 instead.
    (if (f32.ne (local.get $mx) (local.get $mx))
      (then (local.set $mx (f32.demote_f64 (call $finite_f32 (local.get $p0) (local.get $n))))
            (if (f64.gt (f64.load offset=16 (global.get $header)) (f64.const 0)) (then (local.set $mx (f32.const inf))))))
    (f64.store (global.get $header) (f64.promote_f32 (local.get $mx)))
    (local.get $sum))

  (func (export "pow1_f64") (param $p i32) (param $n i32) (result f64)
    (local $vend i32) (local $end i32) (local $v v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $m0 v128) (local $m1 v128) (local $x f64) (local $sum f64) (local $mx f64)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 3))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (local.set $v (v128.load offset=0 align=8 (local.get $p)))
      (local.set $s0 (f64x2.add (local.get $s0) (f64x2.abs (local.get $v))))
      (local.set $m0 (f64x2.pmax (local.get $m0) (f64x2.abs (local.get $v))))
      (local.set $v (v128.load offset=16 align=8 (local.get $p)))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.abs (local.get $v))))
      (local.set $m1 (f64x2.pmax (local.get $m1) (f64x2.abs (local.get $v))))
      (local.set $v (v128.load offset=32 align=8 (local.get $p)))
      (local.set $s2 (f64x2.add (local.get $s2) (f64x2.abs (local.get $v))))
      (local.set $m0 (f64x2.pmax (local.get $m0) (f64x2.abs (local.get $v))))
      (local.set $v (v128.load offset=48 align=8 (local.get $p)))
      (local.set $s3 (f64x2.add (local.get $s3) (f64x2.abs (local.get $v))))
      (local.set $m1 (f64x2.pmax (local.get $m1) (f64x2.abs (local.get $v))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $loop)))
    (local.set $mx (call $hmax_f64 (f64x2.pmax (local.get $m0) (local.get $m1))))
    (local.set $sum (call $hsum (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f64.abs (f64.load (local.get $p))))
      (local.set $sum (f64.add (local.get $sum) (local.get $x)))
      (local.set $mx (select (local.get $x) (local.get $mx) (f64.gt (local.get $x) (local.get $mx))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $tail)))
    (f64.store (global.get $header) (local.get $mx))
    (local.get $sum))

  ;; ------------------------------------------- max finite |x|, NaN and ±Inf counts
  ;; Only runs when the fast pass saw a non-finite value or an out-of-range sum, so it is
  ;; written for size: one vector per iteration; the tail reuses the same body on a vector
  ;; of 0s with the remaining elements inserted one by one.
  (func $finite_f32 (export "finite_f32") (param $p i32) (param $n i32) (result f64)
    (local $end i32) (local $v v128) (local $inf v128) (local $m v128) (local $cn v128) (local $ci v128)
    (local.set $inf (f32x4.splat (f32.const inf)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16))
        (then (local.set $v (f32x4.abs (v128.load align=4 (local.get $p)))))
        (else (local.set $v (f32x4.abs (f32x4.replace_lane 0 (v128.const i64x2 0 0) (f32.load (local.get $p)))))
              (local.set $p (i32.sub (local.get $p) (i32.const 12)))))
      (local.set $cn (i32x4.sub (local.get $cn) (f32x4.ne (local.get $v) (local.get $v))))
      (local.set $ci (i32x4.sub (local.get $ci) (f32x4.eq (local.get $v) (local.get $inf))))
      (local.set $m (f32x4.pmax (local.get $m) (v128.and (local.get $v) (f32x4.lt (local.get $v) (local.get $inf)))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $loop)))
    (f64.store offset=8 (global.get $header) (call $hcount (local.get $cn)))
    (f64.store offset=16 (global.get $header) (call $hcount (local.get $ci)))
    (f64.promote_f32 (call $hmax_f32 (local.get $m))))

  (func (export "finite_f64") (param $p i32) (param $n i32) (result f64)
    (local $end i32) (local $v v128) (local $inf v128) (local $m v128) (local $cn v128) (local $ci v128)
    (local.set $inf (f64x2.splat (f64.const inf)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16))
        (then (local.set $v (f64x2.abs (v128.load align=8 (local.get $p)))))
        (else (local.set $v (f64x2.abs (f64x2.replace_lane 0 (v128.const i64x2 0 0) (f64.load (local.get $p)))))
              (local.set $p (i32.sub (local.get $p) (i32.const 8)))))
      (local.set $cn (i64x2.sub (local.get $cn) (f64x2.ne (local.get $v) (local.get $v))))
      (local.set $ci (i64x2.sub (local.get $ci) (f64x2.eq (local.get $v) (local.get $inf))))
      (local.set $m (f64x2.pmax (local.get $m) (v128.and (local.get $v) (f64x2.lt (local.get $v) (local.get $inf)))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $loop)))
    (f64.store offset=8 (global.get $header) (f64.convert_i64_u (i64.add (i64x2.extract_lane 0 (local.get $cn)) (i64x2.extract_lane 1 (local.get $cn)))))
    (f64.store offset=16 (global.get $header) (f64.convert_i64_u (i64.add (i64x2.extract_lane 0 (local.get $ci)) (i64x2.extract_lane 1 (local.get $ci)))))
    (call $hmax_f64 (local.get $m)))

  ;; ------------------------------------- Σ (|x|·inv)^k over finite x, k = 1 or 2
  ;; inv = 1/ref is finite (the caller checks). A NaN or ±Inf x gives a NaN or Inf product,
  ;; which the `< inf` mask turns into +0 before it is added. Same tail trick as above.
  (func (export "scaled_f32") (param $p i32) (param $n i32) (param $inv f64) (param $k i32) (result f64)
    (local $end i32) (local $v v128) (local $w v128) (local $iv v128) (local $inf v128) (local $s v128)
    (local.set $iv (f64x2.splat (local.get $inv)))
    (local.set $inf (f64x2.splat (f64.const inf)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 8))
        (then (local.set $v (v128.load64_zero align=4 (local.get $p))))
        (else (local.set $v (f32x4.replace_lane 0 (v128.const i64x2 0 0) (f32.load (local.get $p))))
              (local.set $p (i32.sub (local.get $p) (i32.const 4)))))
      (local.set $w (f64x2.mul (f64x2.abs (f64x2.promote_low_f32x4 (local.get $v))) (local.get $iv)))
      (local.set $w (v128.and (local.get $w) (f64x2.lt (local.get $w) (local.get $inf))))
      (if (i32.eq (local.get $k) (i32.const 2)) (then (local.set $w (f64x2.mul (local.get $w) (local.get $w)))))
      (local.set $s (f64x2.add (local.get $s) (local.get $w)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $loop)))
    (call $hsum (local.get $s) (v128.const i64x2 0 0) (v128.const i64x2 0 0) (v128.const i64x2 0 0)))

  (func (export "scaled_f64") (param $p i32) (param $n i32) (param $inv f64) (param $k i32) (result f64)
    (local $end i32) (local $w v128) (local $iv v128) (local $inf v128) (local $s v128)
    (local.set $iv (f64x2.splat (local.get $inv)))
    (local.set $inf (f64x2.splat (f64.const inf)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16))
        (then (local.set $w (v128.load align=8 (local.get $p))))
        (else (local.set $w (f64x2.replace_lane 0 (v128.const i64x2 0 0) (f64.load (local.get $p))))
              (local.set $p (i32.sub (local.get $p) (i32.const 8)))))
      (local.set $w (f64x2.mul (f64x2.abs (local.get $w)) (local.get $iv)))
      (local.set $w (v128.and (local.get $w) (f64x2.lt (local.get $w) (local.get $inf))))
      (if (i32.eq (local.get $k) (i32.const 2)) (then (local.set $w (f64x2.mul (local.get $w) (local.get $w)))))
      (local.set $s (f64x2.add (local.get $s) (local.get $w)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $loop)))
    (call $hsum (local.get $s) (v128.const i64x2 0 0) (v128.const i64x2 0 0) (v128.const i64x2 0 0)))

  ;; ---------------------------------------------------------------- x ← x · s
  (func (export "scale_f32") (param $p i32) (param $n i32) (param $s f32)
    (local $vend i32) (local $end i32) (local $sv v128)
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (v128.store align=4 (local.get $p) (f32x4.mul (v128.load align=4 (local.get $p)) (local.get $sv)))
      (v128.store offset=16 align=4 (local.get $p) (f32x4.mul (v128.load offset=16 align=4 (local.get $p)) (local.get $sv)))
      (v128.store offset=32 align=4 (local.get $p) (f32x4.mul (v128.load offset=32 align=4 (local.get $p)) (local.get $sv)))
      (v128.store offset=48 align=4 (local.get $p) (f32x4.mul (v128.load offset=48 align=4 (local.get $p)) (local.get $sv)))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $loop)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (f32.store (local.get $p) (f32.mul (f32.load (local.get $p)) (local.get $s)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $tail))))

  (func (export "scale_f64") (param $p i32) (param $n i32) (param $s f64)
    (local $vend i32) (local $end i32) (local $sv v128)
    (local.set $sv (f64x2.splat (local.get $s)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 3))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (v128.store align=8 (local.get $p) (f64x2.mul (v128.load align=8 (local.get $p)) (local.get $sv)))
      (v128.store offset=16 align=8 (local.get $p) (f64x2.mul (v128.load offset=16 align=8 (local.get $p)) (local.get $sv)))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (br $loop)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (f64.store (local.get $p) (f64.mul (f64.load (local.get $p)) (local.get $s)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $tail))))

  ;; ---------------------------------------------------------- x ← clamp(x, −c, c)
  ;; pmin(x, c) = c < x ? c : x and pmax(y, −c) = y < −c ? −c : y keep a NaN x.
  (func (export "clamp_f32") (param $p i32) (param $n i32) (param $c f32)
    (local $vend i32) (local $end i32) (local $hi v128) (local $lo v128) (local $x f32)
    (local.set $hi (f32x4.splat (local.get $c)))
    (local.set $lo (f32x4.splat (f32.neg (local.get $c))))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (v128.store align=4 (local.get $p)
        (f32x4.pmax (f32x4.pmin (v128.load align=4 (local.get $p)) (local.get $hi)) (local.get $lo)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $loop)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f32.load (local.get $p)))
      (local.set $x (select (local.get $c) (local.get $x) (f32.gt (local.get $x) (local.get $c))))
      (f32.store (local.get $p) (select (f32.neg (local.get $c)) (local.get $x) (f32.lt (local.get $x) (f32.neg (local.get $c)))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $tail))))

  (func (export "clamp_f64") (param $p i32) (param $n i32) (param $c f64)
    (local $vend i32) (local $end i32) (local $hi v128) (local $lo v128) (local $x f64)
    (local.set $hi (f64x2.splat (local.get $c)))
    (local.set $lo (f64x2.splat (f64.neg (local.get $c))))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
      (v128.store align=8 (local.get $p)
        (f64x2.pmax (f64x2.pmin (v128.load align=8 (local.get $p)) (local.get $hi)) (local.get $lo)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $loop)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (f64.load (local.get $p)))
      (local.set $x (select (local.get $c) (local.get $x) (f64.gt (local.get $x) (local.get $c))))
      (f64.store (local.get $p) (select (f64.neg (local.get $c)) (local.get $x) (f64.lt (local.get $x) (f64.neg (local.get $c)))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $tail))))

  ;; ---------------------------------------------------------------- helpers
  (func $hsum (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result f64)
    (local $s v128)
    (local.set $s (f64x2.add (f64x2.add (local.get $a) (local.get $b)) (f64x2.add (local.get $c) (local.get $d))))
    (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s))))

  (func $hsum8 (param $a v128) (param $b v128) (param $c v128) (param $d v128)
                (param $e v128) (param $f v128) (param $g v128) (param $h v128) (result f64)
    (call $hsum (f64x2.add (local.get $a) (local.get $e)) (f64x2.add (local.get $b) (local.get $f))
                (f64x2.add (local.get $c) (local.get $g)) (f64x2.add (local.get $d) (local.get $h))))

  (func $hmax_f32 (param $m v128) (result f32)
    (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
             (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))

  (func $hmax_u32 (param $m v128) (result i32)
    (local $a i32) (local $b i32)
    (local.set $a (i32x4.extract_lane 0 (local.get $m)))
    (local.set $b (i32x4.extract_lane 1 (local.get $m)))
    (local.set $a (select (local.get $a) (local.get $b) (i32.gt_u (local.get $a) (local.get $b))))
    (local.set $b (i32x4.extract_lane 2 (local.get $m)))
    (local.set $a (select (local.get $a) (local.get $b) (i32.gt_u (local.get $a) (local.get $b))))
    (local.set $b (i32x4.extract_lane 3 (local.get $m)))
    (select (local.get $a) (local.get $b) (i32.gt_u (local.get $a) (local.get $b))))

  (func $hmax_f64 (param $m v128) (result f64)
    (f64.max (f64x2.extract_lane 0 (local.get $m)) (f64x2.extract_lane 1 (local.get $m))))

  (func $hcount (param $c v128) (result f64)
    (f64.convert_i32_u (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $c)) (i32x4.extract_lane 1 (local.get $c)))
      (i32.add (i32x4.extract_lane 2 (local.get $c)) (i32x4.extract_lane 3 (local.get $c))))))
)
