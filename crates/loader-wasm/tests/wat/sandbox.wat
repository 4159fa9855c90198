;; Misbehaving kernels for the sandbox tests: a side module in the same convention as IREE's wasm32
;; executables (dylink.0, imported memory and table, __memory_base / __table_base), library
;; "sandbox" with these exports, by ordinal:
;;   0 double              1 binding: doubles the u32 elements [64k, 64k + 64) of workgroup k,
;;                         clipped to the binding (the well-behaved kernel)
;;   1 out_of_bounds       loads from wasm address 0xFFFF_FFF0 (never allocated)
;;   2 unreachable         executes `unreachable`
;;   3 divide_by_zero      i32.div_u by a zero read from the dispatch state
;;   4 stack_overflow      recurses without end
;;   5 spin                loops forever
;;   6 write_past_binding  1 binding: stores one u32 just past the end of its binding
;;   7 address_of          1 binding: stores the wasm address of its binding in its first u32
;;   8 peek                1 binding, 1 constant: loads the u32 at the wasm address given by the
;;                         constant and stores it in its binding's first u32
;; Bulk memory and growth, with addresses relative to the wasm address B of binding 0 (wrapping):
;;   9 copy                1 binding, 3 constants d, s, n: memory.copy of n bytes from B+s to B+d
;;  10 fill                1 binding, 3 constants d, v, n: memory.fill of n bytes v at B+d
;;  11 init                1 binding, 2 constants d, n: memory.init of the first n bytes of the
;;                         passive segment $bytes ("0123456789abcdef" x 4) at B+d
;;  12 grow                1 binding, 1 constant n: table.grow by n slots, memory.grow by 1 page;
;;                         stores both results in the binding's first two u32
;;  13 double_from         2 bindings, 1 constant c: doubles the u32 elements [c + 64k, c + 64k + 64)
;;                         of binding 0 in workgroup k, clipped to the binding; binding 1 is bound
;;                         but untouched
;;  14 double_slowly       1 binding, 1 constant n: as double, then counts n down before returning
;;                         (so the workgroups of a dispatch overlap on the threads that run them)
(module
  (@custom "dylink.0" (before first) "\01\05\80\10\04\0f\00")
  (import "env" "memory" (memory 1))
  (import "env" "__indirect_function_table" (table 15 funcref))
  (import "env" "__memory_base" (global $mb i32))
  (import "env" "__table_base" (global $tb i32))

  ;; Strings at __memory_base: the library name at 0, export names every 32 bytes from 16.
  (data (global.get $mb)
    "sandbox\00\00\00\00\00\00\00\00\00"
    "double\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "out_of_bounds\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "unreachable\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "divide_by_zero\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "stack_overflow\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "spin\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "write_past_binding\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "address_of\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "peek\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "copy\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "fill\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "init\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "grow\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "double_from\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "double_slowly\00")

  (data $bytes "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

  (elem (global.get $tb) func $double $out_of_bounds $unreachable $divide_by_zero
    $stack_overflow $spin $write_past_binding $address_of $peek $copy $fill $init $grow
    $double_from $double_slowly)

  ;; Stores a u32 at __memory_base + offset.
  (func $set (param $offset i32) (param $value i32)
    (i32.store (i32.add (global.get $mb) (local.get $offset)) (local.get $value)))

  ;; Export i: function pointer, name pointer, attributes (constants, bindings, workgroup size
  ;; 1x1x1).
  (func $export (param $i i32) (param $constants i32) (param $bindings i32)
    (local $attrs i32)
    (call $set (i32.add (i32.const 592) (i32.shl (local.get $i) (i32.const 2)))
      (i32.add (global.get $tb) (local.get $i)))
    (call $set (i32.add (i32.const 656) (i32.shl (local.get $i) (i32.const 2)))
      (i32.add (global.get $mb) (i32.add (i32.const 16) (i32.shl (local.get $i) (i32.const 5)))))
    (local.set $attrs (i32.add (global.get $mb)
      (i32.add (i32.const 768) (i32.shl (local.get $i) (i32.const 6)))))
    (i32.store8 offset=10 (local.get $attrs) (local.get $constants))
    (i32.store8 offset=11 (local.get $attrs) (local.get $bindings))
    (i32.store offset=12 (local.get $attrs) (i32.const 1))
    (i32.store offset=16 (local.get $attrs) (i32.const 1))
    (i32.store16 offset=20 (local.get $attrs) (i32.const 1)))

  ;; Header at 512, library at 528, ptrs at 592, names at 656, attrs at 768 (up to 16 exports).
  (func $__wasm_apply_data_relocs (export "__wasm_apply_data_relocs")
    (call $set (i32.const 512) (i32.const 6))
    (call $set (i32.const 516) (global.get $mb))
    (call $set (i32.const 528) (i32.add (global.get $mb) (i32.const 512)))
    (call $set (i32.const 540) (i32.const 15))
    (call $set (i32.const 544) (i32.add (global.get $mb) (i32.const 592)))
    (call $set (i32.const 548) (i32.add (global.get $mb) (i32.const 768)))
    (call $set (i32.const 560) (i32.add (global.get $mb) (i32.const 656)))
    (call $export (i32.const 0) (i32.const 0) (i32.const 1))
    (call $export (i32.const 1) (i32.const 0) (i32.const 0))
    (call $export (i32.const 2) (i32.const 0) (i32.const 0))
    (call $export (i32.const 3) (i32.const 0) (i32.const 0))
    (call $export (i32.const 4) (i32.const 0) (i32.const 0))
    (call $export (i32.const 5) (i32.const 0) (i32.const 0))
    (call $export (i32.const 6) (i32.const 0) (i32.const 1))
    (call $export (i32.const 7) (i32.const 0) (i32.const 1))
    (call $export (i32.const 8) (i32.const 1) (i32.const 1))
    (call $export (i32.const 9) (i32.const 3) (i32.const 1))
    (call $export (i32.const 10) (i32.const 3) (i32.const 1))
    (call $export (i32.const 11) (i32.const 2) (i32.const 1))
    (call $export (i32.const 12) (i32.const 1) (i32.const 1))
    (call $export (i32.const 13) (i32.const 1) (i32.const 2))
    (call $export (i32.const 14) (i32.const 1) (i32.const 1)))

  (func (export "iree_hal_executable_library_query") (param $version i32) (param $env i32)
    (result i32)
    (select (i32.add (global.get $mb) (i32.const 528)) (i32.const 0)
      (i32.eq (local.get $version) (i32.const 6))))

  ;; Linear workgroup id: x + count_x * (y + count_y * z).
  (func $linear_id (param $state i32) (param $wg i32) (result i32)
    (i32.add (i32.load (local.get $wg))
      (i32.mul (i32.load offset=12 (local.get $state))
        (i32.add (i32.load offset=4 (local.get $wg))
          (i32.mul (i32.load offset=16 (local.get $state))
            (i32.load16_u offset=8 (local.get $wg)))))))

  (func $double (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (local $ptr i32) (local $count i32) (local $i i32) (local $end i32)
    (local.set $ptr (i32.load (i32.load offset=28 (local.get $state))))
    (local.set $count (i32.shr_u (i32.load (i32.load offset=32 (local.get $state)))
      (i32.const 2)))
    (local.set $i (i32.mul (call $linear_id (local.get $state) (local.get $wg)) (i32.const 64)))
    (local.set $end (i32.add (local.get $i) (i32.const 64)))
    (if (i32.gt_u (local.get $end) (local.get $count)) (then (local.set $end (local.get $count))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (i32.store (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))
          (i32.shl (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2))))
            (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func $out_of_bounds (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (i32.load (i32.const 0xFFFFFFF0)))

  (func $unreachable (param $env i32) (param $state i32) (param $wg i32) (result i32)
    unreachable)

  (func $divide_by_zero (param $env i32) (param $state i32) (param $wg i32) (result i32)
    ;; binding_count is 0 for this export.
    (i32.div_u (i32.const 1) (i32.load8_u offset=23 (local.get $state))))

  (func $stack_overflow (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (i32.add (i32.const 1)
      (call $stack_overflow (local.get $env) (local.get $state) (local.get $wg))))

  (func $spin (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0))

  (func $write_past_binding (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (i32.store
      (i32.add (i32.load (i32.load offset=28 (local.get $state)))
        (i32.load (i32.load offset=32 (local.get $state))))
      (i32.const 0xDEAD))
    (i32.const 0))

  (func $address_of (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (i32.store (i32.load (i32.load offset=28 (local.get $state)))
      (i32.load (i32.load offset=28 (local.get $state))))
    (i32.const 0))

  (func $peek (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (i32.store (i32.load (i32.load offset=28 (local.get $state)))
      (i32.load (i32.load (i32.load offset=24 (local.get $state)))))
    (i32.const 0))
;; The wasm address of binding 0 plus push constant $i.
  (func $at (param $state i32) (param $i i32) (result i32)
    (i32.add (i32.load (i32.load offset=28 (local.get $state)))
      (call $constant (local.get $state) (local.get $i))))

  (func $constant (param $state i32) (param $i i32) (result i32)
    (i32.load (i32.add (i32.load offset=24 (local.get $state))
      (i32.shl (local.get $i) (i32.const 2)))))

  (func $copy (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (memory.copy (call $at (local.get $state) (i32.const 0))
      (call $at (local.get $state) (i32.const 1)) (call $constant (local.get $state) (i32.const 2)))
    (i32.const 0))

  (func $fill (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (memory.fill (call $at (local.get $state) (i32.const 0))
      (call $constant (local.get $state) (i32.const 1))
      (call $constant (local.get $state) (i32.const 2)))
    (i32.const 0))

  (func $init (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (memory.init $bytes (call $at (local.get $state) (i32.const 0)) (i32.const 0)
      (call $constant (local.get $state) (i32.const 1)))
    (i32.const 0))

  (func $grow (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.load (i32.load offset=28 (local.get $state))))
    (i32.store (local.get $ptr)
      (table.grow (ref.null func) (call $constant (local.get $state) (i32.const 0))))
    (i32.store offset=4 (local.get $ptr) (memory.grow (i32.const 1)))
    (i32.const 0))

  (func $double_from (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (local $ptr i32) (local $count i32) (local $i i32) (local $end i32)
    (local.set $ptr (i32.load (i32.load offset=28 (local.get $state))))
    (local.set $count (i32.shr_u (i32.load (i32.load offset=32 (local.get $state)))
      (i32.const 2)))
    (local.set $i (i32.add (call $constant (local.get $state) (i32.const 0))
      (i32.mul (call $linear_id (local.get $state) (local.get $wg)) (i32.const 64))))
    (local.set $end (i32.add (local.get $i) (i32.const 64)))
    (if (i32.gt_u (local.get $end) (local.get $count)) (then (local.set $end (local.get $count))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (i32.store (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))
          (i32.shl (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2))))
            (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func $double_slowly (param $env i32) (param $state i32) (param $wg i32) (result i32)
    (local $n i32)
    (drop (call $double (local.get $env) (local.get $state) (local.get $wg)))
    (local.set $n (call $constant (local.get $state) (i32.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0))
)
