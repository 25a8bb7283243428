import Foundation
import IrisCore
import IrisImaging
import IrisServices

/// `iris repair`: repairs a photo where a mask marks it, locally (no server, no data folder),
/// for scripting and for the repair benchmark.
public enum IrisRepairCommands {
    /// Image files in a domain folder (not its sub-folders), by name.
    static func domainPhotos(_ folder: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure(message: "--domain \(folder) is not a folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        return names.map { (folder as NSString).appendingPathComponent($0) }.filter { path in
            (try? ImageInspector.sniff(path: path)) ?? nil != nil
        }
    }

    /// Repairs `image` where `mask` is white and writes the result to `out` (default: beside
    /// the photo, `NAME.repaired.jpg|png`). Prints what it did and how long it took.
    public static func repair(
        image: String, mask: String, out: String?, seed: UInt64, domain: String?, maxPixels: Int64, quiet: Bool
    ) throws {
        let exemplars = try domain.map(domainPhotos) ?? []
        let repairer = try Repairer(maxPixels: maxPixels)
        var options = Repairer.Options(seed: seed)
        options.threads = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
        if exemplars.count > options.maxExemplars, !quiet {
            FileHandle.standardError.write(
                Data(
                    "note: \(domain ?? "") holds \(exemplars.count) photos; the first \(options.maxExemplars) by name are used\n"
                        .utf8))
        }
        let interactive = isatty(STDERR_FILENO) != 0 && !quiet
        let started = ContinuousClock.now
        let result: Repairer.Result
        do {
            result = try repairer.repair(image: image, mask: mask, exemplars: exemplars, options: options) { fraction in
                if interactive {
                    let filled = Int(fraction * 30)
                    let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: 30 - filled)
                    FileHandle.standardError.write(Data(String(format: "\r[%@] %3.0f%%", bar, fraction * 100).utf8))
                }
                return true
            }
        } catch {
            if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = (ContinuousClock.now - started).seconds
        let target =
            out
            ?? ((image as NSString).deletingPathExtension + ".repaired." + (result.format == .jpeg ? "jpg" : "png"))
        do {
            try result.data.write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            throw CommandFailure(message: "cannot write \(target): \(error.localizedDescription)")
        }
        if !quiet {
            print(
                String(
                    format: "%@: %d×%d, %d pixels repaired in %d region%@ (worked at %d pixels%@) in %.2f s → %@",
                    image, result.width, result.height, result.maskedPixels, result.regions,
                    result.regions == 1 ? "" : "s", result.workingPixels,
                    result.exemplars > 0 ? ", with \(result.exemplars) domain photos" : "", seconds, target))
        }
    }
}
