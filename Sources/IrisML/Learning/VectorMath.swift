/// Dot products with explicit SIMD accumulators: Swift keeps floating-point sums in order,
/// so a plain loop over `+=` is never vectorised; these are 4–8× faster on 1,280-d features.
enum VectorMath {
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum0 = SIMD8<Float>()
        var sum1 = SIMD8<Float>()
        var index = 0
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        while index + 16 <= count {
            sum0 +=
                rawA.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            sum1 +=
                rawA.loadUnaligned(fromByteOffset: (index + 8) * 4, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (index + 8) * 4, as: SIMD8<Float>.self)
            index += 16
        }
        var total = (sum0 + sum1).sum()
        while index < count {
            total += a[index] * b[index]
            index += 1
        }
        return total
    }
}
