//! An optional convenience: an instance, adapter, device and queue for programs that do not
//! bring their own (examples, tests, tools). Engines pass their own device to the crate.

use crate::error::{Error, Result};

/// What to ask of the device.
#[derive(Clone, Debug)]
pub struct GpuRequest {
    /// Request `Features::SUBGROUP` when the adapter has it (the subgroup reduction path).
    pub subgroups: bool,
    /// Request `Features::TIMESTAMP_QUERY` when the adapter has it (benchmarks).
    pub timestamps: bool,
    /// Request `Features::SHADER_F16` when the adapter has it (f16 arenas, see
    /// [`Precision`](crate::Precision)).
    pub f16: bool,
    /// Cap `max_storage_buffer_binding_size` (bytes) below the adapter's limit, to exercise
    /// the windowed path of arenas larger than one binding on small data.
    pub max_storage_binding: Option<u64>,
}

impl Default for GpuRequest {
    fn default() -> Self {
        Self {
            subgroups: true,
            timestamps: false,
            f16: true,
            max_storage_binding: None,
        }
    }
}

/// An adapter with its device and queue, and the instance they belong to.
///
/// Several devices in one process should come from one instance ([`Gpu::another_device`]):
/// the optimizer then refuses a loss buffer of another device with a typed error, and wgpu
/// reports a queue or encoder of one device used with another as a validation error.
/// Across instances neither can (their ids collide); see "Guarantees" in the README.
#[derive(Debug)]
pub struct Gpu {
    /// The instance the adapter was opened on.
    pub instance: wgpu::Instance,
    /// The adapter the device was created on.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// The device's queue.
    pub queue: wgpu::Queue,
}

impl Gpu {
    /// [`Gpu::request`] with the default request, waiting for it. Not on wasm32, where
    /// nothing can wait: await [`Gpu::request`] there.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::request(GpuRequest::default()))
    }

    /// Opens the highest-performance adapter of the backends in `WGPU_BACKEND` when it is
    /// set (e.g. `vulkan`, `gl`); otherwise of the primary backends (Vulkan, Metal, DX12,
    /// and the browser's WebGPU on wasm32), falling back to GL only when none of those has
    /// an adapter. The device gets the adapter's own limits, so that large arenas fit.
    pub async fn request(request: GpuRequest) -> Result<Self> {
        let (instance, adapter) = match wgpu::Backends::from_env() {
            Some(backends) => open_adapter(backends).await,
            // GL is probed only when needed: creating its instance alone makes Mesa's EGL
            // print errors on a headless machine that has a Vulkan driver.
            None => match open_adapter(wgpu::Backends::PRIMARY).await {
                Ok(opened) => Ok(opened),
                Err(_) => open_adapter(wgpu::Backends::SECONDARY).await,
            },
        }
        .map_err(|e| {
            Error::NoAdapter(format!(
                "{e}. Install a Vulkan, Metal, DX12 or GL driver; on a headless Linux machine \
                 `apt-get install mesa-vulkan-drivers` provides lavapipe, a CPU Vulkan driver \
                 (WGPU_BACKEND selects the backend, e.g. WGPU_BACKEND=gl); on the web, a \
                 browser with WebGPU enabled"
            ))
        })?;
        Self::open_device(instance, adapter, &request).await
    }

    /// One more device on this `Gpu`'s adapter and instance, with its own queue: the devices
    /// of a data-parallel run on one machine, where a mix-up of their objects is a wgpu
    /// validation error rather than silently another device's data.
    pub async fn another_device(&self, request: GpuRequest) -> Result<Self> {
        Self::open_device(self.instance.clone(), self.adapter.clone(), &request).await
    }

    /// The device and queue with the requested features (where the adapter has them) and
    /// the adapter's own limits.
    async fn open_device(
        instance: wgpu::Instance,
        adapter: wgpu::Adapter,
        request: &GpuRequest,
    ) -> Result<Self> {
        let mut wanted = wgpu::Features::empty();
        if request.subgroups {
            wanted |= wgpu::Features::SUBGROUP;
        }
        if request.timestamps {
            wanted |= wgpu::Features::TIMESTAMP_QUERY;
        }
        if request.f16 {
            wanted |= wgpu::Features::SHADER_F16;
        }
        let mut limits = adapter.limits();
        if let Some(cap) = request.max_storage_binding {
            limits.max_storage_buffer_binding_size =
                limits.max_storage_buffer_binding_size.min(cap);
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-alig"),
                required_features: adapter.features() & wanted,
                required_limits: limits,
                ..Default::default()
            })
            .await?;
        Ok(Self {
            instance,
            adapter,
            device,
            queue,
        })
    }

    /// A one-line description of the adapter: name, backend, driver.
    pub fn describe(&self) -> String {
        let info = self.adapter.get_info();
        format!(
            "{} ({:?}, {} {})",
            info.name, info.backend, info.driver, info.driver_info
        )
    }
}

/// An instance of `backends` (the other instance options from the environment) and its
/// highest-performance adapter.
async fn open_adapter(
    backends: wgpu::Backends,
) -> std::result::Result<(wgpu::Instance, wgpu::Adapter), wgpu::RequestAdapterError> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = backends;
    let instance = wgpu::Instance::new(descriptor);
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await?;
    Ok((instance, adapter))
}
