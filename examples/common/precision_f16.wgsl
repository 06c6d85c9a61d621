// f16 parameters (the copy of the f32 master that the optimizer writes) and f16 gradients
// (`Precision::F16`): the forward and backward kernels load f16 weights and store f16
// gradients, and compute in f32. See precision_f32.wgsl.
enable f16;

alias Param = f16;
alias Grad = f16;
