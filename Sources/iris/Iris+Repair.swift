import ArgumentParser
import Foundation
import IrisCommands

struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Repair a photo where a mask is white, locally (no server needed).",
        discussion:
            "The mask is an image of the photo's size (after EXIF orientation), white where the photo is to be reconstructed. The repair copies patches from the rest of the photo (and from --domain photos), and is the same for the same --seed."
    )
    @Argument(help: "The photo (JPEG, PNG, WebP, HEIC/HEIF, GIF or TIFF).") var image: String
    @Option(help: "The mask: white where the photo is to be repaired.") var mask: String
    @Option(help: "Where to write the result (default: beside the photo, NAME.repaired.jpg or .png).") var out: String?
    @Option(help: "The random seed.") var seed: UInt64 = 1
    @Option(help: "A folder of photos of the same kind of scene to take patches from as well.") var domain: String?
    @Option(help: "Largest photo accepted, in pixels.") var maxPixels: Int64 = 100_000_000
    @Flag(help: "Print nothing but errors.") var quiet = false

    func run() async throws {
        try IrisRepairCommands.repair(
            image: image, mask: mask, out: out, seed: seed, domain: domain, maxPixels: maxPixels, quiet: quiet)
    }
}
