/// Runs the exported graphs of one bundle: the only thing the step scheduler needs from an inference engine.
///
/// The runner owns the tensor storage (Core ML `MLMultiArray`s on device, host bytes in the tests), so buffers
/// are created once by `makeTensor` and every step only hands them back and forth.
public protocol GraphRunner: AnyObject {
    associatedtype Tensor

    /// A zero-filled tensor that will be passed as `name` ("x", "t", "y", "coef" or a cache slot); called only
    /// while a scheduler is being set up, never per step.
    func makeTensor(named name: String, spec: TensorSpec) throws -> Tensor

    /// Overwrites `tensor` with `values` (converted to the tensor's element type).
    func writeFloats(_ values: [Float], to tensor: Tensor) throws

    /// Overwrites `tensor` with integer `values` (class labels).
    func writeInts(_ values: [Int32], to tensor: Tensor) throws

    /// The values of `tensor`, in C order.
    func readFloats(_ tensor: Tensor) throws -> [Float]

    /// Runs graph `variant` on `inputs` (in `variant.inputs` order) and leaves its results in `outputs` (in
    /// `variant.outputs` order: the next latent, then one new value per written slot). An output can be an input
    /// of the same step (a forecasting step reads a slot's old value and writes its new one): read every input
    /// before writing any output.
    func run(variant: Manifest.Variant, inputs: [Tensor], outputs: [Tensor]) throws
}
