//! Generates the C header with cbindgen into OUT_DIR. With
//! TRACKSTATS_HEADER_OUT set, also writes it there: `make header` points it at
//! include/trackstats.h, and the drift check at a scratch file to compare.
//!
//! The header's version macros come from Cargo's package version here, the
//! one place it is written (Cargo.toml), as `trackstats_version()` does; so
//! does the shared library's SONAME.

use std::env;
use std::path::PathBuf;

fn main() {
    link_soname();
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

/// ELF targets get `-soname libtrackstats.so.<abi>`, where `<abi>` is the
/// number whose change breaks the ABI: the major version, or `0.<minor>`
/// before 1.0 (Cargo's rule, under which 0.1 -> 0.2 may break). This is the
/// one place that rule lives: `make install` and the checks read the SONAME
/// back from the built library.
fn link_soname() {
    let elf = env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "unix"))
        && env::var("CARGO_CFG_TARGET_VENDOR").is_ok_and(|v| v != "apple");
    if !elf {
        return;
    }
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let abi = if major == "0" { format!("0.{minor}") } else { major };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtrackstats.so.{abi}");
}
