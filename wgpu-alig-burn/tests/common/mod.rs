//! What the adapter's tests share: a small burn MLP with a frozen layer, seeded data, and
//! host copies of the module's parameters and gradients (read outside the steps).
#![allow(dead_code)]

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use wgpu_alig_burn::{AligOptimizer, SharedDevice};

/// Two trained layers around a frozen one (its parameters have no gradient).
#[derive(Module, Debug)]
pub struct Mlp {
    pub hidden: Linear,
    pub frozen: Linear,
    pub output: Linear,
    pub activation: Relu,
}

impl Mlp {
    pub fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(6, 12).init(device),
            frozen: LinearConfig::new(12, 12).init(device).no_grad(),
            output: LinearConfig::new(12, 3).init(device),
            activation: Relu::new(),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.activation.forward(self.hidden.forward(x));
        let x = self.activation.forward(self.frozen.forward(x));
        self.output.forward(x)
    }

    /// The mean squared error on `(x, y)`: a tensor of one element on the GPU.
    pub fn loss(&self, x: &Tensor<2>, y: &Tensor<2>) -> Tensor<1> {
        let diff = self.forward(x.clone()) - y.clone();
        (diff.clone() * diff).mean()
    }
}

/// One test's device, shut down when the test ends (`SharedDevice::shutdown`), so that no
/// driver thread is still at work when the test process exits. Bind it first: what a test
/// makes after it is dropped before it, and burn's runtime stops only once nothing of the
/// device is left.
pub struct TestDevice {
    shared: Option<SharedDevice>,
    pub device: Device,
}

impl TestDevice {
    pub fn open() -> Self {
        let shared = SharedDevice::open().expect("an adapter (lavapipe on a headless machine)");
        let device = shared.burn_device();
        Self {
            shared: Some(shared),
            device,
        }
    }

    pub fn shared(&self) -> &SharedDevice {
        self.shared.as_ref().expect("open until dropped")
    }

    /// Seeded inputs and targets on the device.
    pub fn data(&self, seed: u64) -> (Tensor<2>, Tensor<2>) {
        self.device.seed(seed);
        let x = Tensor::<2>::random([16, 6], Distribution::Uniform(-1.0, 1.0), &self.device);
        let y = Tensor::<2>::random([16, 3], Distribution::Uniform(-1.0, 1.0), &self.device);
        (x, y)
    }
}

impl Drop for TestDevice {
    fn drop(&mut self) {
        // A failing test has its own message; a second panic here would abort the process.
        if let Some(shared) = self.shared.take()
            && !std::thread::panicking()
        {
            let started = std::time::Instant::now();
            shared.shutdown().expect("the device shuts down");
            // Burn's runtime gives up on a thread something still holds after 30 s and leaves
            // it running into the exit: a test that leaks the device fails here instead.
            let took = started.elapsed();
            assert!(
                took.as_secs() < 10,
                "shutdown took {took:?}: the device leaked"
            );
        }
    }
}

/// A float parameter read back: its path, id, values, and gradient (when it has one).
#[derive(Clone, Debug)]
pub struct HostParam {
    pub path: String,
    pub id: ParamId,
    pub values: Vec<f32>,
    pub grad: Option<Vec<f32>>,
}

/// Reads every float parameter of `module` (and its gradient in `grads`) to the host.
pub fn read_params<M: Module>(module: &M, grads: Option<&GradientsParams>) -> Vec<HostParam> {
    let mut reader = Reader {
        grads,
        path: Vec::new(),
        params: Vec::new(),
    };
    module.visit(&mut reader);
    reader.params
}

struct Reader<'a> {
    grads: Option<&'a GradientsParams>,
    path: Vec<String>,
    params: Vec<HostParam>,
}

impl ModuleVisitor for Reader<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let grad = self
            .grads
            .and_then(|grads| grads.get::<D>(param.id))
            .map(|grad| to_vec(grad.to_data()));
        self.params.push(HostParam {
            path: self.path.join("."),
            id: param.id,
            values: to_vec(param.val().to_data()),
            grad,
        });
    }
}

pub fn to_vec(data: TensorData) -> Vec<f32> {
    data.try_to_vec::<f32>().expect("f32 data")
}

/// The one value of a loss tensor, read back (outside the steps).
pub fn read_loss(loss: &Tensor<1>) -> f32 {
    to_vec(loss.to_data())[0]
}

/// One step of a new MLP made on `device`, with `alig`: the model, or the optimizer's error.
pub fn step_new_model(
    alig: &mut AligOptimizer,
    device: &Device,
    (x, y): (&Tensor<2>, &Tensor<2>),
) -> wgpu_alig_burn::Result<Mlp> {
    let model = Mlp::new(device);
    let loss = model.loss(x, y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    alig.step(&loss, model, grads)
}
