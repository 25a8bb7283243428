import CVips
public import Foundation

/// Pictures of one flat colour, with or without an embedded ICC profile, for the colour tests
/// of thumbnails and model input. Expected values come from the published Display P3 → sRGB
/// conversion (the linear matrix between the two sets of primaries, both with sRGB's tone
/// curve): P3 (200, 100, 50) is sRGB (215, 92, 31).
public enum ColourFixtures {
    public static let p3Colour: [UInt8] = [200, 100, 50]
    public static let p3ColourInSRGB = [215, 92, 31]

    /// A Display P3 profile made with lcms; `name` changes its bytes, not its meaning.
    public static func displayP3(named name: String = "Display P3") throws -> Data {
        try profile(named: name, red: (0.680, 0.320), green: (0.265, 0.690), blue: (0.150, 0.060))
    }

    /// An sRGB profile built the same way (sRGB's primaries and tone curve).
    public static func sRGB(named name: String = "sRGB") throws -> Data {
        try profile(named: name, red: (0.640, 0.330), green: (0.300, 0.600), blue: (0.150, 0.060))
    }

    static func profile(named name: String, red: (Double, Double), green: (Double, Double), blue: (Double, Double))
        throws -> Data
    {
        struct Failed: Error { let step: String }
        var white = cmsCIExyY(x: 0.3127, y: 0.3290, Y: 1)
        var primaries = cmsCIExyYTRIPLE(
            Red: cmsCIExyY(x: red.0, y: red.1, Y: 1), Green: cmsCIExyY(x: green.0, y: green.1, Y: 1),
            Blue: cmsCIExyY(x: blue.0, y: blue.1, Y: 1))
        // sRGB's tone curve: parametric type 4 (γ 2.4, a 1/1.055, b 0.055/1.055, c 1/12.92, d 0.04045).
        var parameters: [cmsFloat64Number] = [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045]
        guard let curve = cmsBuildParametricToneCurve(nil, 4, &parameters) else { throw Failed(step: "tone curve") }
        defer { cmsFreeToneCurve(curve) }
        var curves: [OpaquePointer?] = [curve, curve, curve]
        guard let profile = cmsCreateRGBProfile(&white, &primaries, &curves) else { throw Failed(step: "profile") }
        defer { cmsCloseProfile(profile) }
        guard let description = cmsMLUalloc(nil, 1) else { throw Failed(step: "description") }
        defer { cmsMLUfree(description) }
        cmsMLUsetASCII(description, "en", "US", name)
        cmsWriteTag(profile, cmsSigProfileDescriptionTag, UnsafeRawPointer(description))
        var length: cmsUInt32Number = 0
        guard cmsSaveProfileToMem(profile, nil, &length) != 0 else { throw Failed(step: "size") }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        guard cmsSaveProfileToMem(profile, &bytes, &length) != 0 else { throw Failed(step: "save") }
        return Data(bytes)
    }

    public enum Kind: Sendable { case rgb, cmyk, grey }

    /// A flat 600×400 picture of `colour` (one value per band of `kind`), with `profile`
    /// embedded when given, encoded as `suffix` (".jpg", ".png").
    public static func flat(_ colour: [UInt8], kind: Kind = .rgb, profile: Data? = nil, suffix: String) throws -> Data {
        struct Failed: Error { let step: String }
        let values = (0..<(600 * 400)).flatMap { _ in colour }
        guard
            let image = values.withUnsafeBytes({
                vips_image_new_from_memory_copy(
                    $0.baseAddress, $0.count, 600, 400, Int32(colour.count), VIPS_FORMAT_UCHAR)
            })
        else { throw Failed(step: "image") }
        defer { g_object_unref(image) }
        image.pointee.Type =
            switch kind {
            case .rgb: VIPS_INTERPRETATION_sRGB
            case .cmyk: VIPS_INTERPRETATION_CMYK
            case .grey: VIPS_INTERPRETATION_B_W
            }
        if let profile {
            profile.withUnsafeBytes { vips_image_set_blob_copy(image, "icc-profile-data", $0.baseAddress, $0.count) }
        }
        var buffer: UnsafeMutableRawPointer?
        var length = 0
        guard iris_vips_save_buffer(image, suffix, &buffer, &length) == 0, let buffer else {
            throw Failed(step: "save")
        }
        defer { g_free(buffer) }
        return Data(bytes: buffer, count: length)
    }
}
