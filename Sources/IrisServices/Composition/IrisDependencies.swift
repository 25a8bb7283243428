public import AsyncHTTPClient
import Foundation
public import IrisBlobs
import IrisCore
import IrisImaging
public import IrisStore
public import Logging
public import NIOCore
public import NIOPosix

/// The parts an Iris application is built from. Tests pass their own; `iris serve`
/// opens the real ones from settings.
public struct IrisDependencies: Sendable {
    public var store: IrisStore
    public var blobs: any BlobStore
    public var scratch: ScratchSpace
    public var metrics: IrisMetrics
    /// Threads for libvips work, apart from the shared pool that serves files, so that
    /// decoding big images never stalls downloads.
    public let imagingThreads: NIOThreadPool
    /// The HTTP client of an S3 blob store, shut down by `close()`.
    var storageClient: HTTPClient?

    public init(
        store: IrisStore, blobs: any BlobStore, scratch: ScratchSpace, metrics: IrisMetrics = IrisMetrics(),
        imagingThreads: Int = System.coreCount
    ) {
        self.store = store
        self.blobs = blobs
        self.scratch = scratch
        self.metrics = metrics
        self.imagingThreads = NIOThreadPool(numberOfThreads: max(imagingThreads, 1))
        self.imagingThreads.start()
    }

    /// Closes the database pool and stops the imaging threads.
    public func close() async {
        await store.database.shutdown()
        try? await imagingThreads.shutdownGracefully()
        try? await storageClient?.shutdown()
    }

    /// Opens the database (migrating it), the disk blob store and scratch space in the data folder,
    /// and removes whatever an earlier crash left in scratch space. libvips's own warnings about
    /// odd files (an unknown EXIF unit, a damaged tile) go to this log at debug level rather
    /// than to standard error: what a bad file means for a request is reported with it.
    public static func open(_ settings: IrisSettings, logger: Logger) async throws -> IrisDependencies {
        Vips.onLog { warning, message in
            logger.debug("\(warning ? "libvips warning" : "libvips message")", metadata: ["message": "\(message)"])
        }
        try FileManager.default.createDirectory(at: settings.dataDirectory, withIntermediateDirectories: true)
        let scratch = try ScratchSpace(directory: settings.scratchDirectory)
        let leftovers = try scratch.removeLeftovers()
        if leftovers > 0 {
            logger.notice("removed files an earlier run left unfinished", metadata: ["count": "\(leftovers)"])
        }
        let (blobs, client) = try await openBlobs(settings, scratch: scratch, logger: logger)
        let store: IrisStore
        do {
            store = try await IrisStore.open(settings.database, poolSize: settings.poolSize, logger: logger)
        } catch {
            try? await client?.shutdown()
            throw error
        }
        // A bulk label change an earlier process left half-way (SQLite applies one in chunks) is
        // reversed once its lease lapsed; one still running renews its lease every chunk.
        do {
            let reversed = try await store.labels.recover(
                now: Date(), recording: AuditLog.template(as: .system("iris"), .labelChanged))
            if !reversed.isEmpty {
                logger.notice(
                    "reversed label changes an earlier run left incomplete",
                    metadata: ["operations": "\(reversed.map(String.init).joined(separator: ","))"])
            }
        } catch {
            logger.error("could not reverse incomplete label changes", metadata: ["error": "\(error)"])
        }
        var dependencies = IrisDependencies(store: store, blobs: blobs, scratch: scratch)
        dependencies.storageClient = client
        return dependencies
    }

    /// The blob store `storage.backend` names; an S3 bucket is checked first (reachable,
    /// credentials accepted, writable), and a failure names what is wrong.
    public static func openBlobs(_ settings: IrisSettings, scratch: ScratchSpace, logger: Logger) async throws -> (
        any BlobStore, HTTPClient?
    ) {
        guard settings.storage.backend == .s3, let location = settings.storage.s3 else {
            return (try DiskBlobStore(root: settings.blobsDirectory, scratch: scratch), nil)
        }
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .seconds(10), read: .seconds(Int64(location.timeout)))))
        do {
            let store = S3BlobStore(
                client: S3Client(location: location, http: client),
                cache: try BlobCache(root: settings.cacheDirectory, capacity: settings.storage.cacheBytes),
                scratch: scratch)
            try await store.check()
            logger.info(
                "blobs in S3",
                metadata: [
                    "endpoint": "\(location.endpoint.absoluteString)", "bucket": "\(location.bucket)",
                    "prefix": "\(location.prefix)",
                ])
            return (store, client)
        } catch {
            try? await client.shutdown()
            if let unavailable = error as? BlobStoreUnavailable {
                throw ConfigurationError(unavailable.message, setting: "storage.s3.endpoint")
            }
            throw error
        }
    }
}

extension IrisDependencies {
    /// An importer for a process that runs no job queue (`iris import`, `iris learn add`, the
    /// learning benchmark): it makes thumbnails while it imports rather than queueing them.
    public func importer(_ settings: IrisSettings) throws -> ImageFolderImport {
        let inspector = try ImageInspector(
            maxPixels: settings.limits.maxPixels, thumbnailQuality: settings.thumbnailQuality)
        let library = ImageLibrary(
            store: store, blobs: blobs, inspector: inspector, threads: imagingThreads, followUp: .inline)
        return ImageFolderImport(library: library, scratch: scratch, limits: settings.limits)
    }
}
