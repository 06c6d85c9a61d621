//! Whether the kernels' modules carry bounds checks. By default they do not: every storage
//! and workgroup access of `shaders/*.wgsl` is in range by construction (each access pattern
//! says why beside it), so the checks naga would insert before each one only cost time.
//! `WGPU_ALIG_SHADER_CHECKS=1` in the environment puts them back, for debugging: then an
//! index out of range reads zeros and drops writes instead of touching other memory. The
//! results are the same bit for bit either way (CI runs the golden test both ways). In a
//! browser the checks stay: WebGPU inserts its own.

/// The environment variable that turns bounds checks on.
pub const SHADER_CHECKS_VAR: &str = "WGPU_ALIG_SHADER_CHECKS";

/// The runtime checks the crate builds its modules with: bounds checks only when
/// `WGPU_ALIG_SHADER_CHECKS` asks for them (any value but empty or `0`), read each time; loop
/// bounding always (every loop of the kernels ends, and the bound costs next to nothing).
/// Public so that kernels compared with the crate's (a benchmark's roofline) pay the same.
pub fn shader_runtime_checks() -> wgpu::ShaderRuntimeChecks {
    let requested = std::env::var_os(SHADER_CHECKS_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    wgpu::ShaderRuntimeChecks {
        bounds_checks: requested,
        ..wgpu::ShaderRuntimeChecks::checked()
    }
}

/// The module of one kernel's WGSL, with the checks of [`shader_runtime_checks`].
pub(crate) fn shader_module(
    device: &wgpu::Device,
    label: &str,
    wgsl: String,
) -> wgpu::ShaderModule {
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(wgsl.into()),
    };
    // SAFETY: the kernels index storage buffers only below the lengths the plan binds
    // (`len_vec4` of the window, the partials, chunk table, groups and stats ring it sizes)
    // and workgroup arrays only below their declared sizes; shaders/*.wgsl gives the reason at
    // each access pattern, and the golden, window, padding and size tests run with and without
    // checks to the same bits.
    unsafe { device.create_shader_module_trusted(desc, shader_runtime_checks()) }
}
