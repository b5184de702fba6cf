//! Decides whether the PostgreSQL variants of the server's tests run. They need a
//! server that may create databases, named by `HP_ECMO_TEST_POSTGRES_URL` (as
//! `cargo xtask test` arranges). Without one they are reported as ignored, never
//! as passed; under `CI=true` they run all the same, and fail for want of it.
//! Likewise the export checks that read the files back in Python and validate the
//! ODM file with xmllint: they need `HP_ECMO_EXPORT_PYTHON`, the virtual
//! environment's interpreter `cargo xtask test` names.

fn main() {
    println!("cargo::rerun-if-env-changed=HP_ECMO_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=HP_ECMO_EXPORT_PYTHON");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(export_checks)");
    let configured = std::env::var_os("HP_ECMO_TEST_POSTGRES_URL").is_some();
    let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
    if configured || in_ci {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    if std::env::var_os("HP_ECMO_EXPORT_PYTHON").is_some() || in_ci {
        println!("cargo::rustc-cfg=export_checks");
    }
}
