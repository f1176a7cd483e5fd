//! clawmetry: the program is `clawmetry::main` (`src/app.rs`, the wiring); the library keeps
//! every module private but that and the fuzz targets' entry points, so unused code shows.

fn main() -> std::process::ExitCode {
    clawmetry::main()
}
