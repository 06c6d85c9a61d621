// f32 parameters, f16 gradients (`Precision::F16Grads`): the backward kernels round what they
// store to f16. See precision_f32.wgsl.
enable f16;

alias Param = f32;
alias Grad = f16;
