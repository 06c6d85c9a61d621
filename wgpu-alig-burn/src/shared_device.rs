//! One `wgpu::Device` and `Queue` for burn's runtime and the optimizer: burn's wgpu runtime
//! is registered on a device opened here, or on a setup the program already has.

use std::sync::{Arc, Mutex};

use burn::backend::CubeDevice;
use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, WgpuSetup, try_init_device};
use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};

/// Devices shut down, idle, kept until the process exits (`SharedDevice::shutdown`).
static RETIRED: Mutex<Vec<SharedDevice>> = Mutex::new(Vec::new());

/// The device and queue burn and the optimizer share, and burn's name for them.
#[derive(Clone, Debug)]
pub struct SharedDevice {
    /// The wgpu device both submit to.
    pub device: wgpu::Device,
    /// Its queue: burn's runtime and the optimizer's steps are ordered on it.
    pub queue: wgpu::Queue,
    adapter_info: Arc<wgpu::AdapterInfo>,
    burn: WgpuDevice,
}

impl SharedDevice {
    /// Opens an adapter the way `wgpu_alig::Gpu` does (`WGPU_BACKEND` when set, else the
    /// primary backends, else GL), with every feature and limit of the adapter as burn's own
    /// device request does, and registers it with burn's wgpu runtime.
    pub fn open() -> Result<Self> {
        pollster::block_on(Self::open_async())
    }

    /// [`SharedDevice::open`], awaited.
    pub async fn open_async() -> Result<Self> {
        let (instance, adapter) = open_adapter().await?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-alig-burn"),
                // What burn's runtime asks of a device it opens itself.
                required_features: adapter
                    .features()
                    .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
                required_limits: adapter.limits(),
                memory_hints: wgpu::MemoryHints::MemoryUsage,
                ..Default::default()
            })
            .await
            .map_err(wgpu_alig::Error::from)?;
        let backend = adapter.get_info().backend;
        Self::register(WgpuSetup {
            instance,
            adapter,
            device,
            queue,
            backend,
        })
    }

    /// Registers a setup the program made (its device and queue) with burn's wgpu runtime.
    /// Register a setup once, then share this value.
    pub fn register(setup: WgpuSetup) -> Result<Self> {
        let adapter_info = Arc::new(setup.adapter.get_info());
        let (device, queue) = (setup.device.clone(), setup.queue.clone());
        let burn = try_init_device(setup, RuntimeOptions::default())
            .map_err(|e| Error::Runtime(e.to_string()))?;
        Ok(Self {
            device,
            queue,
            adapter_info,
            burn,
        })
    }

    /// Takes burn's device: `setup` is what `burn::backend::wgpu::init_setup` returned for
    /// `burn_device`, which runs on its device and queue.
    pub fn from_burn(setup: &WgpuSetup, burn_device: WgpuDevice) -> Self {
        Self {
            device: setup.device.clone(),
            queue: setup.queue.clone(),
            adapter_info: Arc::new(setup.adapter.get_info()),
            burn: burn_device,
        }
    }

    /// Burn's device, with autodiff: create the model and data on it.
    pub fn burn_device(&self) -> Device {
        Device::new(self.burn.clone()).autodiff()
    }

    /// Burn's wgpu device id.
    pub fn wgpu_device(&self) -> &WgpuDevice {
        &self.burn
    }

    /// Whether `device` (with or without autodiff) is this one. Burn compares devices by
    /// hardware identity and runtime registration, ignoring autodiff.
    pub fn is(&self, device: &Device) -> bool {
        *device == Device::new(self.burn.clone())
    }

    /// Ends burn's and the driver's work on the device before the program exits. Burn keeps
    /// its devices in statics, never dropped: a program that ends without this leaves burn's
    /// threads submitting and the driver's threads running into the process's exit (lavapipe
    /// then crashes at exit now and then, in a thread still freeing compiled shaders).
    ///
    /// Releases the graphs burn's autodiff keeps for losses whose backward never ran, waits
    /// for the device, stops burn's runtime threads for it, waits until the driver is idle,
    /// and keeps the wgpu device, idle, until the process exits: destroying the last device
    /// destroys its instance, and the Vulkan loader then unloads the driver while the
    /// process still holds exit handlers of it (lavapipe: a crash at exit too).
    ///
    /// Drop every tensor, module, gradient and optimizer of the device first: burn's runtime
    /// stops a device's thread only once nothing holds a client of it (it waits 30 s, then
    /// leaves the thread with a warning in burn's log). The device is unusable afterwards,
    /// for burn and for the optimizer, in every clone of this value.
    pub fn shutdown(self) -> Result<()> {
        use cubecl_common::device::Device as _;
        use cubecl_common::device_handle::DeviceHandle;

        self.finish_burn_work()?;
        // The fusion server (with fusion on) is registered under the runtime-stamped id, the
        // wgpu server under the device's own; stopping an id nothing runs on does nothing.
        let fused = CubeDevice::Wgpu(self.burn.clone()).to_id();
        <DeviceHandle<()>>::shutdown(fused);
        <DeviceHandle<()>>::shutdown(self.burn.to_id());
        self.wait_for_driver()?;
        RETIRED
            .lock()
            .map_err(|_| Error::Runtime("a shutdown panicked".into()))?
            .push(self);
        Ok(())
    }

    /// Releases the graphs burn's autodiff keeps of the device and waits for its work.
    fn finish_burn_work(&self) -> Result<()> {
        let device = self.burn_device();
        // Burn's autodiff keeps the graph of a loss whose backward never ran, and tensors of
        // the device with it, until a later backward finds the graph orphaned: run one.
        drop(
            Tensor::<1>::zeros([1], &device)
                .require_grad()
                .sum()
                .backward(),
        );
        device.sync().map_err(|e| Error::Runtime(format!("{e:?}")))
    }

    /// Two empty submissions, each waited for: a driver that runs submissions in order on a
    /// thread of its own (lavapipe) has then finished all work before the first, including
    /// what it does after signalling it (lavapipe frees pipelines there).
    fn wait_for_driver(&self) -> Result<()> {
        for _ in 0..2 {
            let index = self.queue.submit([]);
            self.device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(index),
                    timeout: None,
                })
                .map_err(|e| Error::Runtime(e.to_string()))?;
        }
        Ok(())
    }

    /// A one-line description of the adapter: name, backend, driver.
    pub fn describe(&self) -> String {
        let info = &self.adapter_info;
        format!(
            "{} ({:?}, {} {})",
            info.name, info.backend, info.driver, info.driver_info
        )
    }
}

/// The highest-performance adapter of the backends in `WGPU_BACKEND`, or of the primary
/// backends with GL as the fallback, as `wgpu_alig::Gpu` chooses.
async fn open_adapter() -> Result<(wgpu::Instance, wgpu::Adapter)> {
    let candidates = match wgpu::Backends::from_env() {
        Some(backends) => vec![backends],
        None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY],
    };
    let mut last_error = String::from("no backend tried");
    for backends in candidates {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        descriptor.backends = backends;
        let instance = wgpu::Instance::new(descriptor);
        match instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
        {
            Ok(adapter) => return Ok((instance, adapter)),
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(Error::Alig(wgpu_alig::Error::NoAdapter(last_error)))
}
