//! libFuzzer driver of painters_fuzz::Target::Config (invariants: crates/painters-fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(v) = painters_fuzz::Target::Config.run(data) {
        panic!("{v}");
    }
});
