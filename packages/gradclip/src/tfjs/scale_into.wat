;; dst[i] = src[i] · s for float32 data on the tfjs wasm backend's heap, in one pass.
;;
;; gradclip's kernels.wat scales in place; a tensor result needs a fresh buffer, and
;; copy + in-place scale reads and writes the data twice. This module runs on the tfjs heap
;; (the memory is imported) and writes the product straight into the output tensor.
;; Same arithmetic as tf.mul and kernels.wat's scale_f32: one float32 multiply per element.
;;
;; Assembled into scale_into_wasm.generated.ts by scale_into.test.ts (which fails when the two
;; disagree; run it with GRADCLIP_REGENERATE_WASM=1 to rewrite the generated file).
(module
  (import "env" "memory" (memory 1))
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
