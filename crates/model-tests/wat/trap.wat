;; The `model_trap` library for format system-wasm-wasm_32: one export, `trap_at` (1 push
;; constant, 1 binding, workgroup size 1x1x1). Workgroup k adds 1 to u32 element k of binding 0,
;; except the workgroup whose linear id equals push constant 0, which executes `unreachable`.
;;
;; A side module in the convention of IREE's wasm32 executables (dylink.0, imported memory and
;; table, __memory_base / __table_base, __wasm_apply_data_relocs), laid out as loader-wasm's test
;; module tests/wat/sandbox.wat: library name at __memory_base, export name at +16, header at
;; +512, library at +528, function pointers at +592, names at +640, attributes at +704.
(module
  ;; MEM_INFO: 2048 bytes of data, 2^4 alignment, 1 table slot.
  (@custom "dylink.0" (before first) "\01\05\80\10\04\01\00")
  (import "env" "memory" (memory 1))
  (import "env" "__indirect_function_table" (table 1 funcref))
  (import "env" "__memory_base" (global $mb i32))
  (import "env" "__table_base" (global $tb i32))

  (data (global.get $mb) "model_trap\00\00\00\00\00\00" "trap_at\00")

  (elem (global.get $tb) func $trap_at)

  (func $set (param $offset i32) (param $value i32)
    (i32.store (i32.add (global.get $mb) (local.get $offset)) (local.get $value)))

  (func $__wasm_apply_data_relocs (export "__wasm_apply_data_relocs")
    ;; header: version 6, name
    (call $set (i32.const 512) (i32.const 6))
    (call $set (i32.const 516) (global.get $mb))
    ;; library: header, 1 export (pointers, attributes, names)
    (call $set (i32.const 528) (i32.add (global.get $mb) (i32.const 512)))
    (call $set (i32.const 540) (i32.const 1))
    (call $set (i32.const 544) (i32.add (global.get $mb) (i32.const 592)))
    (call $set (i32.const 548) (i32.add (global.get $mb) (i32.const 704)))
    (call $set (i32.const 560) (i32.add (global.get $mb) (i32.const 640)))
    (call $set (i32.const 592) (global.get $tb))
    (call $set (i32.const 640) (i32.add (global.get $mb) (i32.const 16)))
    ;; attributes: 1 constant, 1 binding, workgroup size 1x1x1
    (i32.store8 offset=714 (global.get $mb) (i32.const 1))
    (i32.store8 offset=715 (global.get $mb) (i32.const 1))
    (call $set (i32.const 716) (i32.const 1))
    (call $set (i32.const 720) (i32.const 1))
    (i32.store16 offset=724 (global.get $mb) (i32.const 1)))

  (func (export "iree_hal_executable_library_query") (param $version i32) (param $env i32)
    (result i32)
    (select (i32.add (global.get $mb) (i32.const 528)) (i32.const 0)
      (i32.eq (local.get $version) (i32.const 6))))

  (func $trap_at (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (local $linear i32) (local $at i32)
    ;; linear = x + count_x * (y + count_y * z)
    (local.set $linear
      (i32.add (i32.load (local.get $wg))
        (i32.mul (i32.load offset=12 (local.get $state))
          (i32.add (i32.load offset=4 (local.get $wg))
            (i32.mul (i32.load offset=16 (local.get $state))
              (i32.load16_u offset=8 (local.get $wg)))))))
    (if (i32.eq (local.get $linear) (i32.load (i32.load offset=24 (local.get $state))))
      (then unreachable))
    (local.set $at (i32.add (i32.load (i32.load offset=28 (local.get $state)))
      (i32.shl (local.get $linear) (i32.const 2))))
    (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
    (i32.const 0))
)
