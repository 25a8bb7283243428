import Foundation
import IrisCore
import IrisImaging
public import IrisServices
import IrisStore

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
    /// the photo, `NAME.repaired.jpg|png`). Prints what it did and how long it took. Settings
    /// (and the data folder) are read only for an inpaint model's `method` or for `project`.
    public static func repair(
        image: String, mask: String, out: String?, seed: UInt64, method: String, domain: String?, project: String?,
        maxPixels: Int64, quiet: Bool, settings: () throws -> IrisSettings
    ) async throws {
        if domain != nil, project != nil { throw CommandFailure(message: "give --domain or --project, not both") }
        let builtIn = RepairMethods.builtIns.first { $0.name == method }
        if builtIn == nil, domain != nil || project != nil {
            throw CommandFailure(
                message:
                    "--domain and --project are for the built-in methods (exemplar, exemplar-smooth); networks see the photo alone"
            )
        }
        let repairer = try Repairer(maxPixels: maxPixels)
        var options = Repairer.Options(seed: seed)
        options.threads = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
        var network: Repairer.Network?
        var exemplars = try domain.map(domainPhotos) ?? []
        if let builtIn {
            options.finish = builtIn.finish
        } else {
            (network, _) = try await fromData(
                settings(), method: method, project: nil, image: image)
        }
        if let project {
            (network, exemplars) = try await fromData(
                settings(), method: method, project: project, image: image)
            if exemplars.isEmpty, !quiet {
                FileHandle.standardError.write(
                    Data("note: project \(project) has no analysed photos to take patches from\n".utf8))
            }
        }
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
            result = try repairer.repair(
                image: image, mask: mask, exemplars: exemplars, network: network, options: options
            ) { fraction in
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
                    result.exemplars > 0
                        ? ", with \(result.exemplars) domain photo\(result.exemplars == 1 ? "" : "s")" : "", seconds,
                    target))
        }
    }

    /// The inpaint model `method` names and the project's photos most like `image`, read from
    /// the models folder and the data folder (closed again before the repair runs).
    static func fromData(
        _ settings: IrisSettings, method: String, project: String?, image: String
    ) async throws -> (Repairer.Network?, [String]) {
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        do {
            let service = RepairMethods(
                store: dependencies.store, blobs: dependencies.blobs, models: settings.models.registry(logger: logger))
            let methods = service.names
            guard methods.contains(method) else {
                throw CommandFailure(
                    message: "--method must be one of \(methods.joined(separator: ", ")), not \(method)")
            }
            var photos: [String] = []
            if let project {
                let found =
                    if let id = Int64(project) { try await dependencies.store.projects.find(id: id) } else {
                        try await dependencies.store.projects.find(name: project)
                    }
                guard let found else { throw CommandFailure(message: "no project is named or numbered \(project)") }
                photos = try await service.similarPhotos(toFile: image, in: found.id)
            }
            await dependencies.close()
            return (service.resolve(method: method).network, photos)
        } catch {
            await dependencies.close()
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
    }
}
