//! Generates the C header with cbindgen into OUT_DIR. With
//! TRACKSTATS_HEADER_OUT set, also writes it there: `make header` points it at
//! include/trackstats.h, and the drift check at a scratch file to compare.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=TRACKSTATS_HEADER_OUT");
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let header = cbindgen::Builder::new().with_crate(&dir).with_config(config).generate().expect("cbindgen failed");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("trackstats.h");
    header.write_to_file(&out);
    if let Ok(dest) = env::var("TRACKSTATS_HEADER_OUT") {
        header.write_to_file(dest);
    }
}
