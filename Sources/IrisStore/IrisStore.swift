import IrisCore
public import Logging

/// The database and its repositories, opened together.
public struct IrisStore: Sendable {
    public let database: IrisDatabase
    public let projects: any ProjectRepository
    public let images: any ImageRepository
    public let labels: any LabelRepository
    public let reviews: any ReviewRepository
    public let accounts: any AccountRepository
    public let events: any EventRepository
    public let links: any UploadLinkRepository
    public let jobs: any JobRepository
    public let webhooks: any WebhookRepository
    public let analyses: any AnalysisRepository
    public let learning: any LearningRepository
    public let registeredModels: any RegisteredModelRepository
    public let repairs: any RepairRepository
    public let search: any SearchRepository
    public let reports: any ReportRepository

    public init(database: IrisDatabase) {
        self.database = database
        self.projects = SQLProjectRepository(database: database)
        self.images = SQLImageRepository(database: database)
        self.labels = SQLLabelRepository(database: database)
        self.reviews = SQLReviewRepository(database: database)
        self.accounts = SQLAccountRepository(database: database)
        self.events = SQLEventRepository(database: database)
        self.links = SQLUploadLinkRepository(database: database)
        self.jobs = SQLJobRepository(database: database)
        self.webhooks = SQLWebhookRepository(database: database)
        self.analyses = SQLAnalysisRepository(database: database)
        self.learning = SQLLearningRepository(database: database)
        self.registeredModels = SQLRegisteredModelRepository(database: database)
        self.repairs = SQLRepairRepository(database: database)
        self.search = SQLSearchRepository(database: database)
        self.reports = SQLReportRepository(database: database)
    }

    /// Opens the database at `location` and brings its schema up to date.
    public static func open(_ location: DatabaseLocation, poolSize: Int = 4, logger: Logger) async throws -> IrisStore {
        let database = try IrisDatabase(location: location, poolSize: poolSize, logger: logger)
        do {
            let applied = try await Migrator(database: database).migrate()
            if !applied.isEmpty {
                logger.info("applied migrations", metadata: ["migrations": .string(applied.joined(separator: ","))])
            }
        } catch {
            await database.shutdown()
            throw error
        }
        return IrisStore(database: database)
    }
}
