//! libFuzzer driver of painters_fuzz::Target::ModelBytes (invariants: crates/painters-fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(v) = painters_fuzz::Target::ModelBytes.run(data) {
        panic!("{v}");
    }
});
