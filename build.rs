//! Generates the C header with cbindgen into OUT_DIR. With
//! TRACKSTATS_HEADER_OUT set, also writes it there: `make header` points it at
//! include/trackstats.h, and the drift check at a scratch file to compare.
//!
//! The header's version macros come from Cargo's package version here, the
//! one place it is written (Cargo.toml), as `trackstats_version()` does.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=TRACKSTATS_HEADER_OUT");
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(version_macros());
    let header = cbindgen::Builder::new().with_crate(&dir).with_config(config).generate().expect("cbindgen failed");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("trackstats.h");
    header.write_to_file(&out);
    if let Ok(dest) = env::var("TRACKSTATS_HEADER_OUT") {
        header.write_to_file(dest);
    }
}

/// `TRACKSTATS_VERSION_MAJOR`, `_MINOR` and `_PATCH`: integers, so C and C++
/// code can check the header it was given at compile time.
fn version_macros() -> String {
    let part = |name: &str| -> u64 {
        let v = env::var(format!("CARGO_PKG_VERSION_{name}")).expect("Cargo sets the version");
        v.parse().expect("a numeric version part")
    };
    format!(
        "\n// The version of this header and of the library it was generated with\n\
         // (`trackstats_version()` gives the same as a string).\n\
         #define TRACKSTATS_VERSION_MAJOR {}\n\
         #define TRACKSTATS_VERSION_MINOR {}\n\
         #define TRACKSTATS_VERSION_PATCH {}",
        part("MAJOR"),
        part("MINOR"),
        part("PATCH")
    )
}
