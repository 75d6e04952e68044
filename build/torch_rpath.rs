// Shared by every build script that links libtorch (included with `include!`).
// Why: the binary must run without LD_LIBRARY_PATH (rpath to the venv's torch/lib), and the
// linker's --as-needed drops libtorch_cuda.so, which makes CUDA invisible on a GPU machine.
fn torch_link_args() {
    println!("cargo:rerun-if-env-changed=DDMD_VENV_PYTHON");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let lib_dir = if let Ok(root) = std::env::var("LIBTORCH") {
        std::path::PathBuf::from(root).join("lib")
    } else {
        let python = std::env::var("DDMD_VENV_PYTHON").unwrap_or_else(|_| "python3".into());
        let out = std::process::Command::new(&python)
            .args(["-c", "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string())
            }
            _ => {
                println!("cargo:warning=could not locate torch with {python}; run scripts/setup-venv");
                return;
            }
        }
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-search=native={}", lib_dir.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    } else {
        // Loud: such a worker never sees a GPU, and nothing else would say why.
        for line in [
            "!!!!!!!! this torch has no libtorch_cuda.so (a CPU-only wheel):",
            &format!("!!!!!!!! {}", lib_dir.display()),
            "!!!!!!!! the worker built now can never use a GPU; for GPU machines install a CUDA",
            "!!!!!!!! wheel (scripts/setup-venv installs the one DESIGN names) and rebuild",
        ] {
            println!("cargo:warning={line}");
        }
    }
}
