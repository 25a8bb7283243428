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
    @Option(
        help:
            "exemplar (patches from the photo), exemplar-smooth (the same, its texture faded deep in the hole: closer to the lost pixels on average, blurred in a large hole's middle), or an installed inpaint model's name."
    ) var method = "exemplar"
    @Option(help: "A folder of photos of the same kind of scene to take patches from as well.") var domain: String?
    @Option(
        help:
            "Take patches from this project's photos most like this one as well (name or id; reads the data folder)."
    ) var project: String?
    @OptionGroup var common: CommonOptions
    @Option(help: "Largest photo accepted, in pixels.") var maxPixels: Int64 = 100_000_000
    @Flag(help: "Print nothing but errors.") var quiet = false

    func run() async throws {
        try await IrisRepairCommands.repair(
            image: image, mask: mask, out: out, seed: seed, method: method, domain: domain, project: project,
            maxPixels: maxPixels, quiet: quiet, settings: { try common.settings() })
    }
}
