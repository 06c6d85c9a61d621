// The element types of the arena's buffers that the engine's kernels bind: f32 parameters and
// gradients. The first part of the module of every kernel that binds the arena (`enable`, in
// the f16 ones, must come before any declaration); the kernels compute in f32 and convert
// what they load (`f32(w[i])`) and store (`Grad(sum)`), which here changes nothing.

alias Param = f32;
alias Grad = f32;
