import Foundation
public import Hummingbird
import IrisBlobs
import IrisCore
import IrisImaging
public import IrisML
public import IrisServices
import IrisStore
public import Logging
import NIOCore
import NIOPosix

/// Builds the whole application on opened dependencies: the parts (`IrisSystem`, with a
/// shared model registry when tests hand one), routes, middleware and the services that run
/// beside the server. Read-only mode writes nothing, so it runs no workers and no scheduler.
public func buildApplication(
    settings: IrisSettings, dependencies: IrisDependencies, logger: Logger, catalog: RouteCatalog = RouteCatalog(),
    models: ModelRegistry? = nil
) async throws -> some ApplicationProtocol {
    let writes = settings.mode != .readOnly
    let system = try IrisSystem(
        settings: settings, dependencies: dependencies, workers: writes ? settings.jobs.workers : [], schedule: writes,
        logger: logger, models: models)
    await system.prepareModels(logger: logger)
    let router = try await buildRouter(settings: settings, system: system, catalog: catalog, logger: logger)
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    HeaderTimeoutHandler(timeout: .milliseconds(Int64(settings.headerTimeout * 1000)))
                ],
                idleTimeout: .milliseconds(Int64(settings.idleTimeout * 1000)))),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "iris"),
        services: system.services,
        logger: logger
    )
}

/// The router: every route and middleware.
func buildRouter(
    settings: IrisSettings, system: IrisSystem, catalog: RouteCatalog, logger: Logger
) async throws -> Router<IrisRequestContext> {
    let dependencies = system.dependencies
    let library = system.library
    var resources = try ServerResources.load(mode: settings.mode)
    if settings.storage.backend == .s3, let publicEndpoint = settings.storage.s3?.publicEndpoint,
        let scheme = publicEndpoint.scheme, let host = publicEndpoint.host
    {
        // Path-style URLs name the bucket in the path; virtual-hosted ones in the host.
        let named = settings.storage.s3?.pathStyle == false ? "\(settings.storage.s3?.bucket ?? "").\(host)" : host
        resources.imageOrigins = ["\(scheme)://\(named)" + (publicEndpoint.port.map { ":\($0)" } ?? "")]
    }

    let router = Router(context: IrisRequestContext.self)
    router.add(middleware: ProblemMiddleware(catalog: catalog, pages: resources))
    router.add(middleware: RequestMetricsMiddleware(metrics: dependencies.metrics))
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: FormQueryMiddleware())
    router.add(middleware: TextInputMiddleware())

    router.add(middleware: ClientAddressMiddleware(trustedProxies: settings.trustedProxies))
    router.add(middleware: ModeMiddleware(mode: settings.mode))
    router.add(middleware: AuthMiddleware(store: dependencies.store, touchTokens: settings.mode == .normal))
    let guardian = AccessGuard(store: dependencies.store, moderationThreshold: settings.models.moderationThreshold)
    let (audit, moderation, uploads, importer) = (system.audit, system.moderation, system.uploads, system.importer)
    let root = Routes(methods: router, prefix: "", catalog: catalog, guardian: guardian)
    let api = Routes(methods: router.group("api/v1"), prefix: "api/v1", catalog: catalog, guardian: guardian)
    OperationsController(
        store: dependencies.store, scratch: dependencies.scratch, metrics: dependencies.metrics,
        openAPI: resources.openAPI
    )
    .addRoutes(to: root)
    ProjectController(store: dependencies.store, library: library, guardian: guardian, audit: audit).addRoutes(
        to: api)
    ImageController(
        store: dependencies.store, blobs: dependencies.blobs, library: library, scratch: dependencies.scratch,
        limits: settings.limits, audit: audit, uploads: uploads, guardian: guardian, moderation: moderation
    ).addRoutes(to: api)
    LinkController(store: dependencies.store, audit: audit, guardian: guardian).addRoutes(to: api)
    LabelController(store: dependencies.store, labels: system.labels).addRoutes(to: api)
    LabelStudioController(store: dependencies.store, backend: system.labelStudio, guardian: guardian).addRoutes(to: api)
    LabelCheckController(store: dependencies.store, quality: system.labelQuality, photoMap: system.photoMap).addRoutes(
        to: api)
    ReviewController(store: dependencies.store, review: system.review).addRoutes(to: api)
    ImportController(
        store: dependencies.store, importer: importer, scratch: dependencies.scratch, limits: settings.limits,
        audit: audit
    ).addRoutes(to: api)
    TokenController(store: dependencies.store, audit: audit).addRoutes(to: api)
    // Wrong passwords, at sign-in or when changing one's own, count against one limit.
    let signInFailures = RateLimiter(limit: settings.signInLimit, window: 15 * 60)
    UserController(
        store: dependencies.store, audit: audit, bcryptCost: settings.bcryptCost, signInFailures: signInFailures
    ).addRoutes(to: api)
    MemberController(store: dependencies.store, audit: audit).addRoutes(to: api)
    EventController(store: dependencies.store, guardian: guardian).addRoutes(to: api)
    let jobs = JobController(queue: system.queue, guardian: guardian, audit: audit)
    jobs.addRoutes(to: api)
    WebhookController(store: dependencies.store, sender: system.sender, audit: audit).addRoutes(to: api)
    AnalysisController(
        store: dependencies.store, models: system.models, analyses: system.analyses,
        scratch: dependencies.scratch, limits: settings.limits,
        guardian: guardian, audit: audit
    ).addRoutes(to: api)
    RepairController(
        store: dependencies.store, repairs: system.repairs, blobs: dependencies.blobs, scratch: dependencies.scratch,
        guardian: guardian, audit: audit
    ).addRoutes(to: api)
    ExportController(store: dependencies.store, blobs: dependencies.blobs, queue: system.queue, audit: audit)
        .addRoutes(to: api)
    let search = SearchController(
        similar: system.similar, text: system.textSearch, duplicates: system.duplicates, store: dependencies.store,
        audit: audit, guardian: guardian)
    search.addRoutes(to: api)
    LearningController(
        store: dependencies.store, learning: system.learning, queue: system.queue, importer: importer,
        scratch: dependencies.scratch, limits: settings.limits,
        audit: audit
    ).addRoutes(to: api)
    InferenceController(
        server: system.modelServer, guardian: guardian, maxBody: Int(min(settings.limits.maxUploadBytes, 128 << 20))
    ).addRoutes(to: root)
    WebController(
        store: dependencies.store, resources: resources, limits: settings.limits, guardian: guardian,
        moderation: moderation, repairMethods: { [methods = system.repairs.methods] in methods.names }
    )
    .addRoutes(to: root)
    // The pages (Controllers/Web): server-rendered HTML that calls /api/v1 like any client.
    SessionController(
        store: dependencies.store, audit: audit, resources: resources, bcryptCost: settings.bcryptCost,
        secureCookies: settings.secureCookies,
        signInFailures: signInFailures
    ).addRoutes(to: root)
    AdminController(store: dependencies.store, resources: resources, settings: settings, models: system.models)
        .addRoutes(to: root)
    ActivityPages(store: dependencies.store, guardian: guardian, resources: resources, jobs: jobs).addRoutes(to: root)
    SearchPages(store: dependencies.store, duplicates: system.duplicates, resources: resources, search: search)
        .addRoutes(to: root)
    ContributorPage(store: dependencies.store, guardian: guardian, resources: resources).addRoutes(to: root)
    ReviewPage(store: dependencies.store, resources: resources).addRoutes(to: root)
    LabelCheckPage(store: dependencies.store, resources: resources).addRoutes(to: root)
    return router
}
