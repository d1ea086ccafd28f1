//! Generates the ONNX protobuf bindings from the vendored `proto/onnx.proto`
//! (ONNX 1.20.1) with the pure-Rust parser of `protobuf-codegen`. `bytes`
//! fields become `bytes::Bytes`, so parsing a model from a memory map slices
//! the weights instead of copying them.
fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    protobuf_codegen::Codegen::new()
        .pure()
        .include("proto")
        .input("proto/onnx.proto")
        .cargo_out_dir("onnx_proto")
        .customize(protobuf_codegen::Customize::default().tokio_bytes(true).gen_mod_rs(true))
        .run_from_script();
}
