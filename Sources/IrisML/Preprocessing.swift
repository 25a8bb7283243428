import IrisImaging

/// Turns pixels into one sample of a model's input tensor, driven by its manifest: the
/// same code for every model.
struct Preprocessor: Sendable {
    let input: ModelManifest.Input

    var fit: ModelPixels.Fit {
        switch input.resize {
        case .centreCrop: .centreCrop(shortSide: input.shortSide ?? max(input.width, input.height))
        case .stretch: .stretch
        case .fit: .fit
        }
    }

    func pixels(path: String) throws -> ModelPixels {
        try ModelPixels.load(path: path, width: input.width, height: input.height, fit: fit)
    }

    /// Shape of one sample without the batch dimension.
    func sampleShape(width: Int, height: Int) -> [Int] {
        input.layout == .nchw ? [3, height, width] : [height, width, 3]
    }

    /// The sample's values; `width`/`height` may exceed the pixels' (zero padding).
    func values(_ pixels: ModelPixels, width: Int? = nil, height: Int? = nil) -> [Float] {
        let outWidth = width ?? pixels.width
        let outHeight = height ?? pixels.height
        let plane = outWidth * outHeight
        // Per graph channel: which RGB byte feeds it, and value = byte * a + b.
        let sourceChannel = input.colors == .rgb ? [0, 1, 2] : [2, 1, 0]
        let a = (0..<3).map { 1 / (input.scale * input.std[$0]) }
        let b = (0..<3).map { -input.mean[$0] / input.std[$0] }
        var out = [Float](repeating: 0, count: plane * 3)
        pixels.rgb.withUnsafeBufferPointer { rgb in
            out.withUnsafeMutableBufferPointer { out in
                for y in 0..<pixels.height {
                    for x in 0..<pixels.width {
                        let source = (y * pixels.width + x) * 3
                        for channel in 0..<3 {
                            let value = Float(rgb[source + sourceChannel[channel]]) * a[channel] + b[channel]
                            let target =
                                input.layout == .nchw
                                ? channel * plane + y * outWidth + x : (y * outWidth + x) * 3 + channel
                            out[target] = value
                        }
                    }
                }
            }
        }
        return out
    }
}
