//! How a pass spreads one window of the arena over workgroups. Every pass is a grid-stride
//! loop over `vec4`s; what differs between devices is how much work a thread should get.

/// How much of a window each thread of a pass handles, and how many workgroups a pass may
/// have, for a kind of device. The optimizer picks it; it is public so that benchmarks can
/// spread their own kernels the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkSplit {
    vec4_per_thread: u32,
    max_workgroups: u32,
}

impl WorkSplit {
    /// GPUs: short loops and enough workgroups to fill every core; at most 1024 partials,
    /// which each workgroup of pass 2 sums again.
    pub const GPU: Self = Self {
        vec4_per_thread: 4,
        max_workgroups: 1024,
    };

    /// CPU drivers (lavapipe, llvmpipe, WARP) run a workgroup's threads one SIMD vector after
    /// another, each through its whole loop: about 16 `vec4`s per thread keeps a workgroup's
    /// footprint in cache. Timed alone on lavapipe, the update kernel moved 1.6e7 floats in
    /// 25 ms at 15 `vec4`s per thread and in 43 ms at 64.
    pub const CPU: Self = Self {
        vec4_per_thread: 16,
        max_workgroups: 4096,
    };

    /// The split for `device`'s kind of adapter.
    pub fn for_device(device: &wgpu::Device) -> Self {
        match device.adapter_info().device_type {
            wgpu::DeviceType::Cpu => Self::CPU,
            _ => Self::GPU,
        }
    }

    /// Fewest `vec4`s a thread handles before another workgroup is added.
    pub fn vec4_per_thread(&self) -> u32 {
        self.vec4_per_thread
    }

    /// Most workgroups of a pass per window, hence most partials of pass 1 per window.
    pub fn max_workgroups(&self) -> u32 {
        self.max_workgroups
    }

    /// Workgroups of 256 threads for a pass over `len_vec4` `vec4`s (at least one).
    pub fn workgroups(&self, len_vec4: u32) -> u32 {
        len_vec4
            .div_ceil(crate::kernels::shader_types::WORKGROUP_SIZE * self.vec4_per_thread)
            .clamp(1, self.max_workgroups)
    }
}

#[cfg(test)]
mod tests {
    use super::WorkSplit;

    #[test]
    fn workgroups_cover_the_window_within_the_bounds() {
        for split in [WorkSplit::GPU, WorkSplit::CPU] {
            let per_workgroup = 256 * split.vec4_per_thread();
            assert_eq!(split.workgroups(0), 1);
            assert_eq!(split.workgroups(1), 1);
            assert_eq!(split.workgroups(per_workgroup), 1);
            assert_eq!(split.workgroups(per_workgroup + 1), 2);
            assert_eq!(split.workgroups(u32::MAX), split.max_workgroups());
        }
    }
}
