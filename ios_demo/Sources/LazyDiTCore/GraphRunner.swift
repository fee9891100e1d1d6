/// Runs the exported graphs of one bundle: the only thing the step scheduler needs from an inference engine.
///
/// The runner owns the tensor storage (Core ML `MLMultiArray`s on device, host bytes in the tests). Buffers are
/// made by `makeTensor` and each step's graph is bound to its buffers by `bind` while a scheduler prepares a
/// plan, so a step itself only calls `run` with a binding made earlier: nothing is allocated per step.
public protocol GraphRunner: AnyObject {
    associatedtype Tensor
    /// One step's graph with the buffers it reads and writes, made once per plan and step.
    associatedtype Binding

    /// A zero-filled tensor that will be passed as `name` ("x", "t", "y", "coef", "ratio" (a forecasting step's
    /// ratios, shape `[len(ratio_slots)]` in the coef dtype), a cache slot, or "image", the decoder's output);
    /// called only while a scheduler is being set up, never per step.
    func makeTensor(named name: String, spec: TensorSpec) throws -> Tensor

    /// Overwrites `tensor` with `values` (converted to the tensor's element type).
    func writeFloats(_ values: [Float], to tensor: Tensor) throws

    /// Overwrites `tensor` with integer `values` (class labels).
    func writeInts(_ values: [Int32], to tensor: Tensor) throws

    /// The values of `tensor`, in C order.
    func readFloats(_ tensor: Tensor) throws -> [Float]

    /// Binds graph `variant` to `inputs` (in `variant.inputs` order: x, t, y, coef, then `ratio` at index 4 when
    /// the variant has `ratio_slots`, then the slots it reads) and `outputs` (in `variant.outputs` order: the next
    /// latent, then one new value per written slot). There is one tensor per name of `variant.inputs` and
    /// `variant.outputs`. The scheduler guarantees that no output is also an input of the same binding, so a
    /// runner may let the graph write straight into every output.
    ///
    /// For a bundle with a decoder it is also called once per plan with the decode graph
    /// (`Manifest.Decoder.graph`: its name is the manifest's `decoder.name`, input `latent`, output `image`),
    /// which the runner resolves through its target's `decoder` entry rather than its variants.
    func bind(variant: Manifest.Variant, inputs: [Tensor], outputs: [Tensor]) throws -> Binding

    /// Runs one bound step, leaving its results in the binding's outputs.
    func run(_ binding: Binding) throws

    /// Called after the last step of every run (also after a failed one), so a runner can release what it
    /// holds between runs (the Core ML runner's reduced-memory mode unloads its functions here).
    func runFinished()
}

extension GraphRunner {
    public func runFinished() {}
}
