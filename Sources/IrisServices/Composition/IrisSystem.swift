public import AsyncHTTPClient
import Foundation
import IrisCore
import IrisImaging
public import IrisML
import IrisStore
public import Logging
import NIOCore
public import ServiceLifecycle

/// The composition root: every part Iris runs, each built once from the settings on top of
/// the opened `IrisDependencies` (database, blob store, scratch space), in the order each
/// needs the others: the event log, the model registry (unless handed one: tests share one),
/// the webhook sender and the HTTP client it shares with remote models, the job queue, the
/// library and the repair service that queue work on it, the learning service, every job
/// handler, the use cases the edges call (uploads, imports, label edits, review, the label
/// check and map, search, Label Studio, the model server), and (when asked for) the workers
/// and the scheduler that run beside the server or in `iris worker`. The HTTP layer only
/// routes to these. `services` lists the long-running pieces for one `ServiceGroup`. Closing
/// the dependencies stays with whoever opened them.
public struct IrisSystem: Sendable {
    public let dependencies: IrisDependencies
    /// The one event log, in the server's mode.
    public let audit: AuditLog
    public let queue: JobQueue
    /// The library uploads use: it queues thumbnails on `queue`.
    public let library: ImageLibrary
    public let workers: JobWorkers?
    let scheduler: JobScheduler?
    public let httpClient: HTTPClient
    public let sender: WebhookSender
    public let models: ModelRegistry
    public let learning: LearningService
    public let repairs: RepairService
    /// Images like an image, by their embeddings.
    public let similar: SimilarImages
    /// Images by words.
    public let textSearch: TextSearch
    /// Near-duplicates in a project.
    public let duplicates: Duplicates
    /// The label check: probably wrong labels and the dataset's other problems.
    public let labelQuality: LabelQuality
    /// The project map: a 2-D layout of the photos' embeddings.
    public let photoMap: PhotoMap
    /// Flagged photos: who may see them.
    public let moderation: Moderation
    /// The one upload use case, at one upload rate per sender, whichever edge a photo comes through.
    public let uploads: Uploads
    /// Analyses asked for by name (`POST /api/v1/analyses`).
    public let analyses: AnalysisRequests
    /// Zip and folder imports.
    public let importer: ImageFolderImport
    /// Label changes, single and bulk, and their undo.
    public let labels: LabelEditing
    /// The review queue and its decisions.
    public let review: Review
    /// Iris as a Label Studio ML backend.
    public let labelStudio: LabelStudioBackend
    /// Iris as an Open Inference Protocol v2 server.
    public let modelServer: ModelServer

    public init(
        settings: IrisSettings, dependencies: IrisDependencies, workers groups: [WorkerGroup], schedule: Bool,
        logger: Logger, models given: ModelRegistry? = nil
    ) throws {
        self.dependencies = dependencies
        let audit = AuditLog(store: dependencies.store, logger: logger, mode: settings.mode)
        self.audit = audit
        let inspector = try ImageInspector(
            maxPixels: settings.limits.maxPixels, thumbnailQuality: settings.thumbnailQuality)
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(
            connect: .seconds(5), read: .milliseconds(Int64(settings.jobs.webhookTimeout * 1000)))
        httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        sender = WebhookSender(
            client: httpClient, allowNetworks: settings.jobs.webhookAllowNetworks, timeout: settings.jobs.webhookTimeout
        )
        // Loaded here once per process unless the caller has them (tests share one registry).
        let models = given ?? settings.models.registry(logger: logger)
        self.models = models
        // A vision–language model's image side is automatic too: search and similar photos
        // need every photo's embedding from it (photos stored before it came: its backfill).
        let followUps = FollowUpJobs(
            autoModels: settings.models.autoModels.filter { name in
                if let model = models.model(name), model.analyses { return true }
                logger.warning(
                    "analysis.auto_models names a model that is not available; new images skip it",
                    metadata: ["model": "\(name)"])
                return false
            } + models.visionLanguagePairs.map { $0.image.name }.filter { !settings.models.autoModels.contains($0) })
        // In the order each part needs the others: the queue (its handlers come below, before
        // any worker starts), then the parts that queue work, then the handlers.
        let registry = JobRegistry()
        let queue = JobQueue(store: dependencies.store, registry: registry, leaseSeconds: settings.jobs.leaseSeconds)
        self.queue = queue
        let library = ImageLibrary(
            store: dependencies.store, blobs: dependencies.blobs, inspector: inspector,
            threads: dependencies.imagingThreads, metrics: dependencies.metrics,
            keep: settings.mode != .demo, followUp: .queued(queue, followUps))
        self.library = library
        let repairs = RepairService(
            methods: RepairMethods(store: dependencies.store, blobs: dependencies.blobs, models: models),
            scratch: dependencies.scratch, repairer: try Repairer(maxPixels: settings.limits.maxPixels), queue: queue,
            library: library, audit: audit)
        self.repairs = repairs
        registry.register(ThumbnailJob(library: library))
        registry.register(
            CleanupJob(
                library: library, scratch: dependencies.scratch, retentionDays: settings.jobs.retentionDays,
                followUps: followUps))
        registry.register(WebhookDeliveryJob(store: dependencies.store, sender: sender))
        registry.register(DiagnosticJob())
        let learning = LearningService(
            store: dependencies.store, blobs: dependencies.blobs, models: models, model: settings.models.learnerModel,
            thresholds: settings.models.thresholds, audit: audit, autoModels: followUps.autoModels,
            maxPixels: settings.limits.maxPixels)
        self.learning = learning
        registry.register(
            AnalysisJob(store: dependencies.store, blobs: dependencies.blobs, models: models, learning: learning))
        registry.register(
            EmbeddingBackfillJob(
                store: dependencies.store, blobs: dependencies.blobs, models: models, learning: learning))
        registry.register(ConsolidateJob(learning: learning))
        registry.register(TrainJob(learning: learning))
        registry.register(EvaluateJob(learning: learning))
        registry.register(RepairJob(repairs: repairs))
        registry.register(
            ExportJob(
                export: DatasetExport(store: dependencies.store, blobs: dependencies.blobs),
                scratch: dependencies.scratch))
        similar = SimilarImages(
            indexes: EmbeddingIndexes(store: dependencies.store, logger: logger), store: dependencies.store,
            models: models, moderationThreshold: settings.models.moderationThreshold)
        duplicates = Duplicates(store: dependencies.store, library: library, similar: similar)
        labelQuality = LabelQuality(store: dependencies.store, learning: learning, duplicates: duplicates, queue: queue)
        photoMap = PhotoMap(store: dependencies.store, learning: learning, queue: queue)
        registry.register(ProjectReportJob(check: labelQuality, map: photoMap))
        let vocabulary = AsyncOnce { [wordnet = settings.wordnetDirectory, folder = settings.models.folder] in
            try SearchVocabulary.load(wordnet: wordnet, models: folder)
        }
        let semantic = AsyncOnce { [settings, logger] () -> SemanticClasses? in
            do {
                return try SemanticClasses.load(settings)
            } catch {
                logger.warning(
                    "text search by meaning is off: the sentence model cannot be loaded",
                    metadata: ["error": "\(error)"])
                return nil
            }
        }
        // Searches do not wait for the sentence model: until it is loaded they go by words.
        textSearch = TextSearch(
            store: dependencies.store, models: models, moderationThreshold: settings.models.moderationThreshold,
            vocabulary: { try await vocabulary.value() }, semantic: { await semantic.ready() ?? nil },
            indexes: similar.indexes)
        moderation = Moderation(store: dependencies.store, defaultThreshold: settings.models.moderationThreshold)
        uploads = Uploads(
            library: library, audit: audit, rate: RateLimiter(limit: settings.uploadRateLimit, window: 60))
        analyses = AnalysisRequests(queue: queue, models: models, uploads: uploads)
        importer = ImageFolderImport(library: library, scratch: dependencies.scratch, limits: settings.limits)
        let labels = LabelEditing(store: dependencies.store, learning: learning, logger: logger)
        self.labels = labels
        review = Review(
            store: dependencies.store, learning: learning, labels: labels, check: labelQuality, search: textSearch)
        labelStudio = LabelStudioBackend(
            store: dependencies.store, learning: learning, labels: labels, sender: sender,
            scratch: dependencies.scratch, fetchOrigins: settings.labelStudioFetchOrigins,
            maxBytes: Int(settings.limits.maxUploadBytes))
        modelServer = ModelServer(
            models: models, learning: learning, scratch: dependencies.scratch, maxPixels: settings.limits.maxPixels)
        workers =
            groups.isEmpty
            ? nil
            : JobWorkers(
                queue: queue, groups: groups, settings: settings.jobs, metrics: dependencies.metrics, audit: audit,
                logger: logger)
        scheduler =
            schedule
            ? JobScheduler(
                queue: queue,
                periodic: [
                    .init(
                        kind: CleanupJob.kind, payload: "{}", queue: JobSettings.Queue.standard,
                        every: settings.jobs.cleanupInterval),
                    .init(
                        kind: ConsolidateJob.kind, payload: "{}", queue: JobSettings.Queue.ml,
                        every: settings.models.consolidateInterval),
                ],
                logger: logger)
            : nil
    }

    /// Loads the remote models registered in the database, then asks every remote model's
    /// server what it serves; run once after `init`, before serving. Then hands the memory
    /// that loading the graphs used for a moment back to the system: the idle server with
    /// the three bundled models held 184 MB before, 161 MB after.
    public func prepareModels(logger: Logger) async {
        do {
            try await models.syncRegistered(from: dependencies.store, logger: logger)
        } catch {
            logger.error("cannot read the registered models", metadata: ["error": "\(error)"])
        }
        await models.verifyRemote(logger: logger)
        await queueBackfills(logger: logger)
        MallocTuning.trim()
    }

    /// Queues an `embeddings.backfill` for each vision–language model some stored photos have
    /// no embedding from (a model just dropped into the models folder).
    func queueBackfills(logger: Logger) async {
        for pair in models.visionLanguagePairs {
            do {
                let missing = try await EmbeddingBackfillJob.missing(model: pair.image.name, store: dependencies.store)
                guard !missing.isEmpty else { continue }
                let answer = try await queue.enqueue(
                    EmbeddingBackfillJob.request(model: pair.image.name, missing: missing.count))
                if answer.created {
                    logger.info(
                        "photos without the vision–language model's embedding: backfill queued",
                        metadata: [
                            "model": "\(pair.image.name)", "photos": "\(missing.count)", "job": "\(answer.job.id)",
                        ])
                }
            } catch {
                logger.error(
                    "cannot queue the embedding backfill",
                    metadata: ["model": "\(pair.image.name)", "error": "\(error)"])
            }
        }
    }
}

extension IrisSystem {
    /// Every long-running piece, each its own service, in start order:
    /// the HTTP client, then the workers, then the scheduler (a group stops them in reverse).
    public var services: [any Service] {
        var services: [any Service] = [HTTPClientService(httpClient)]
        if let workers { services.append(JobWorkerService(workers)) }
        if let scheduler { services.append(JobSchedulerService(scheduler)) }
        return services
    }
}
