//! Generates the C header with cbindgen into OUT_DIR. With
//! TRACKSTATS_HEADER_OUT set, also writes it there: `make header` points it at
//! include/trackstats.h, and the drift check at a scratch file to compare.
//! Also gives the shared library its SONAME, from Cargo's version.

use std::env;
use std::path::PathBuf;

fn main() {
    link_soname();
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
