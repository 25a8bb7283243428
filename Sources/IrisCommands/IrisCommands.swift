import Foundation
import Hummingbird
import IrisBlobs
public import IrisCore
import IrisImaging
import IrisServer
public import IrisServices
import IrisStore
import Logging
import Metrics
import Prometheus

/// What each `iris` subcommand does, kept out of the executable so it stays thin and
/// so tests can call the same code.
public enum IrisCommands {
    public static func serve(_ settings: IrisSettings) async throws {
        MallocTuning.apply(arenas: settings.mallocArenas)
        let logger = settings.makeLogger()
        let metrics = IrisMetrics()
        // Process-wide, once: libraries that report through swift-metrics land in the same /metrics.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        var dependencies = try await IrisDependencies.open(settings, logger: logger)
        dependencies.metrics = metrics
        logger.info(
            "starting",
            metadata: [
                "address": "\(settings.host):\(settings.port)", "database": "\(settings.database)",
                "data": "\(settings.dataDirectory.path)", "libvips": "\(Vips.version)",
            ])
        do {
            // First start: an administrator with a one-time password, written to a file only the
            // server's user can read. Standard output and the log say where, never what it is.
            if let file = try await Accounts(store: dependencies.store, bcryptCost: settings.bcryptCost)
                .bootstrapAdmin(passwordFile: settings.initialAdminPasswordFile)
            {
                let banner = """

                    ================================================================
                     Iris created the administrator "admin". Its password is in
                         \(file.path)
                     (readable by this user only). Sign in at
                     http://\(settings.host):\(settings.port)/login, change it with
                     `iris user reset-password admin`, and delete the file.
                    ================================================================

                    """
                FileHandle.standardOutput.write(Data(banner.utf8))
                logger.notice(
                    "created the administrator admin; its password is in the file named here",
                    metadata: ["password_file": "\(file.path)"])
            }
            let app = try await buildApplication(settings: settings, dependencies: dependencies, logger: logger)
            try await app.runService()
        } catch {
            await dependencies.close()
            throw error
        }
        // Whoever opens the database closes it: after the server and every job service stopped.
        await dependencies.close()
        logger.info("stopped")
    }

    public static func migrate(_ settings: IrisSettings) async throws {
        let logger = settings.makeLogger()
        try FileManager.default.createDirectory(at: settings.dataDirectory, withIntermediateDirectories: true)
        let database = try IrisDatabase(location: settings.database, poolSize: 1, logger: logger)
        let applied: [String]
        do {
            applied = try await Migrator(database: database).migrate()
        } catch {
            await database.shutdown()
            throw error
        }
        await database.shutdown()
        print(
            applied.isEmpty
                ? "The database schema is up to date."
                : "Applied \(applied.count) migration(s): \(applied.joined(separator: ", "))")
    }

    /// `iris import`: a folder or zip into a project (made when missing), straight into the
    /// data folder, as `POST /api/v1/projects/{id}/imports` imports a zip. `format` nil reads
    /// the layout from the contents; folder layouts give labels with `labelFromFolders` or
    /// when `format` names them.
    public static func importImages(
        _ settings: IrisSettings, path: String, projectName: String, labelFromFolders: Bool, format: String? = nil,
        createLabels: Bool = false
    ) async throws {
        var named: ImportFormat?
        if let format {
            guard let known = ImportFormat(rawValue: format.lowercased()) else {
                throw CommandFailure(message: "--format must be \(ImportFormat.spelled), not \(format)")
            }
            named = known
        }
        let folderLabels = labelFromFolders || named == .imagefolder || named == .yolo
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        do {
            let name = try NameRules.validated(projectName, field: "project", maxLength: NameRules.maxProjectName)
            var project = try await dependencies.store.projects.find(name: name)
            if project == nil {
                project = try await dependencies.store.projects.create(name: name, description: "", labelSet: nil)
            }
            guard let project else { return }
            let importer = try dependencies.importer(settings)
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw Refusal.invalid("\(path) does not exist", field: "path")
            }
            let bar = ProgressBar()
            let report =
                isDirectory.boolValue
                ? try await importer.importFolder(
                    at: url, into: project, format: named, labelFromFolders: folderLabels,
                    createLabels: createLabels, progress: bar.update)
                : try await importer.importZip(
                    at: url, into: project, format: named, labelFromFolders: folderLabels,
                    createLabels: createLabels, progress: bar.update)
            bar.finish()
            print(
                "Project \"\(project.name)\" (id \(project.id)), read as \(report.format?.rawValue ?? "imagefolder"): \(report.imported) imported, \(report.duplicates) already stored, \(report.skipped.count) skipped."
            )
            if !report.createdLabels.isEmpty {
                print("  added to the label set: \(report.createdLabels.joined(separator: ", "))")
            }
            for (label, count) in report.labels.sorted(by: { $0.key < $1.key }) { print("  \(label): \(count)") }
            for skipped in report.skipped { print("  skipped \(skipped.path): \(skipped.reason)") }
        } catch {
            await dependencies.close()
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
        await dependencies.close()
    }

    /// Settings whose values are never printed in full.
    static let secretKeys: Set<ConfigurationKey> = [.s3AccessKey, .s3SecretKey]

    /// `iris config --values`: each setting's value here; credentials show only their last 4
    /// characters (the access key) or nothing (the secret).
    public static func settingValues(_ reader: ConfigurationReader) -> String {
        ConfigurationKey.all.map { key in
            let value = reader.string(key)
            let shown =
                if value.isEmpty { "(empty)" } else if key == .s3SecretKey {
                    "******** (set)"
                } else if secretKeys.contains(key) {
                    "****" + value.suffix(4)
                } else { maskingPassword(in: value) }
            return "\(key.name) = \(shown)"
        }
        .joined(separator: "\n")
    }

    /// A URL's password replaced by asterisks (`db.url` carries the database's); anything that
    /// is not a URL with a password as it is.
    static func maskingPassword(in value: String) -> String {
        guard let scheme = value.range(of: "://"), let at = value[scheme.upperBound...].lastIndex(of: "@") else {
            return value
        }
        let userInfo = value[scheme.upperBound..<at]
        guard !userInfo.contains("/"), let colon = userInfo.firstIndex(of: ":") else { return value }
        return value[..<value.index(after: colon)] + "********" + value[at...]
    }

    /// The settings table: `iris config`, and the README's settings section.
    public static func settingsTable(markdown: Bool) -> String {
        if markdown {
            var lines = ["| key | environment | default | meaning |", "|---|---|---|---|"]
            for key in ConfigurationKey.all {
                let value = key.defaultValue.isEmpty ? "*(empty)*" : "`\(key.defaultValue)`"
                lines.append("| `\(key.name)` | `\(key.environmentName)` | \(value) | \(key.help) |")
            }
            return lines.joined(separator: "\n")
        }
        return ConfigurationKey.all.map {
            "\($0.name)  (\($0.environmentName), default \"\($0.defaultValue)\")\n    \($0.help)"
        }
        .joined(separator: "\n")
    }
}

/// A failure to report to the terminal as one line.
public struct CommandFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    /// What to tell the user for a refusal from the layers below (a refusal, a store error, a setting);
    /// nil for anything else, which is reported as it is.
    public static func message(for error: any Error) -> String? {
        switch error {
        case let refusal as Refusal: refusal.detail
        case let failure as StoreError: failure.description
        case let failure as ConfigurationError: failure.description
        default: nil
        }
    }
}
