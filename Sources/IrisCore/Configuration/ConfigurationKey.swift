/// Every setting Iris reads, in one place. Each key is namespaced (`http.port`) and
/// read from, in order: a command-line flag, the environment (`IRIS_HTTP_PORT`),
/// the JSON config file, then the default here. `iris config` prints this table and
/// the README's settings section is generated from it.
public struct ConfigurationKey: Sendable, Hashable {
    public let name: String
    public let defaultValue: String
    public let help: String

    public init(_ name: String, default defaultValue: String, help: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.help = help
    }

    /// `http.port` → `IRIS_HTTP_PORT`.
    public var environmentName: String {
        "IRIS_" + name.uppercased().map { $0 == "." ? "_" : $0 }.map(String.init).joined()
    }
}

extension ConfigurationKey {
    public static let httpHost = ConfigurationKey(
        "http.host", default: "127.0.0.1", help: "Address the HTTP server listens on.")
    public static let httpPort = ConfigurationKey(
        "http.port", default: "8080", help: "Port the HTTP server listens on.")
    public static let httpIdleTimeout = ConfigurationKey(
        "http.idle_timeout", default: "60",
        help:
            "Seconds a connection may go without sending anything while Iris waits for it: a request body that stalls this long, or an idle keep-alive connection, is closed (its partial upload discarded). A response being written is never cut."
    )
    public static let httpHeaderTimeout = ConfigurationKey(
        "http.header_timeout", default: "15",
        help:
            "Seconds a client has to send a request's headers, from connecting (or from the previous response on a kept-alive connection); slower clients are disconnected."
    )
    public static let httpTrustedProxies = ConfigurationKey(
        "http.trusted_proxies", default: "",
        help:
            "Addresses or CIDR blocks (comma-separated, e.g. `172.28.0.10,fd00::/8`) of the reverse proxies in front of Iris. Only a request whose peer is one of them has its client's address read from `X-Forwarded-For` (the sign-in and upload limits count per client); empty: the peer is the client, and the header is ignored."
    )
    public static let dataDirectory = ConfigurationKey(
        "data.dir", default: "./data", help: "Folder for the SQLite database, blobs, derivatives and temporary files.")
    public static let databaseURL = ConfigurationKey(
        "db.url", default: "",
        help:
            "`sqlite:///absolute/path.sqlite` or `postgres://user[:password]@host[:port]/database`. Empty means `sqlite://` + `DATA/iris.sqlite`."
    )
    public static let databasePoolSize = ConfigurationKey(
        "db.pool_size", default: "4", help: "Database connections per event loop (PostgreSQL).")
    public static let uploadMaxBytes = ConfigurationKey(
        "upload.max_bytes", default: "536870912",
        help:
            "Largest request body accepted for an upload or import, in bytes (512 MiB). Larger bodies get 413 before they are read."
    )
    public static let imageMaxPixels = ConfigurationKey(
        "image.max_pixels", default: "100000000",
        help: "Images with more pixels than this (width × height, read from the header) are refused before decoding.")
    public static let thumbnailQuality = ConfigurationKey(
        "thumbnail.quality", default: "82", help: "JPEG quality (1–100) of thumbnails.")
    public static let importMaxEntries = ConfigurationKey(
        "import.max_entries", default: "100000", help: "Most entries a zip import may hold.")
    public static let importMaxTotalBytes = ConfigurationKey(
        "import.max_total_bytes", default: "21474836480",
        help: "Most uncompressed bytes a zip import may expand to (20 GiB).")
    public static let importMaxRatio = ConfigurationKey(
        "import.max_ratio", default: "100",
        help: "Highest compression ratio allowed for any zip entry; images barely compress, so more is a zip bomb.")
    public static let mode = ConfigurationKey(
        "mode", default: "normal",
        help:
            "`normal`; `demo` (everything works, nothing uploaded is kept); or `read-only` (every write is refused with 503)."
    )
    public static let bcryptCost = ConfigurationKey(
        "auth.bcrypt_cost", default: "12",
        help: "bcrypt work factor for passwords (10–16); each step doubles the time to check one.")
    public static let secureCookies = ConfigurationKey(
        "auth.secure_cookies", default: "false",
        help: "`true` marks session cookies Secure: set it when Iris is served over HTTPS (behind a TLS proxy).")
    public static let signInLimit = ConfigurationKey(
        "auth.sign_in_limit", default: "10",
        help:
            "Failed sign-ins allowed per client address and username together in 15 minutes; then that client gets 429 with Retry-After for that username, while others still sign in. From half of it (the username's failures from any client, or the client's for any username), each attempt waits a second longer, up to 5 s."
    )
    public static let uploadRateLimit = ConfigurationKey(
        "upload.rate_limit", default: "600",
        help:
            "Uploads allowed per caller (token, user or client address) per minute, whichever way the photos come (the project upload, a contributor link, an analysis request with files); then 429 with Retry-After."
    )
    public static let jobQueues = ConfigurationKey(
        "jobs.queues", default: "images:1,ml:2,default:1,webhooks:2",
        help:
            "In-process workers of `iris serve`: `queue:count` pairs. Empty runs none (leave the work to `iris worker` processes)."
    )
    public static let jobLeaseSeconds = ConfigurationKey(
        "jobs.lease_seconds", default: "30",
        help:
            "How long a claimed job stays with its worker without a heartbeat; after that another worker takes it. Heartbeats come every third of it (at most 2 s apart); cancellation reaches a running job with the next one."
    )
    public static let jobPrefetch = ConfigurationKey(
        "jobs.prefetch", default: "1",
        help:
            "Jobs a worker claims at once. More saves round trips for many short jobs (the queue benchmark uses 4); jobs waiting behind one that runs past its first heartbeat go back to the queue."
    )
    public static let jobPollSeconds = ConfigurationKey(
        "jobs.poll_seconds", default: "2",
        help: "Idle workers look for work this often even without a wake-up (SQLite across processes).")
    public static let jobGraceSeconds = ConfigurationKey(
        "jobs.shutdown_grace_seconds", default: "10",
        help: "On SIGTERM, running jobs get this long to finish; then they are cancelled and given back to the queue.")
    public static let jobRetryBaseSeconds = ConfigurationKey(
        "jobs.retry_base_seconds", default: "2",
        help: "First retry delay; each further attempt doubles it (capped at an hour), with jitter.")
    public static let workerHealthPort = ConfigurationKey(
        "jobs.health_port", default: "0",
        help:
            "A port `iris worker` answers GET /healthz (alive) and /readyz (the database answers) on, for container probes; 0: none."
    )
    public static let jobRetentionDays = ConfigurationKey(
        "jobs.retention_days", default: "14",
        help: "Succeeded and cancelled jobs older than this are deleted by cleanup; dead and failed ones are kept.")
    public static let cleanupInterval = ConfigurationKey(
        "cleanup.interval_seconds", default: "3600",
        help: "How often the cleanup job runs (stale temporary files, orphan blobs, old jobs).")
    public static let webhookAllowNetworks = ConfigurationKey(
        "webhooks.allow_networks", default: "",
        help:
            "Comma-separated CIDR blocks webhooks may reach although private, loopback or link-local (e.g. `10.0.0.0/8,127.0.0.1/32`)."
    )
    public static let webhookTimeout = ConfigurationKey(
        "webhooks.timeout_seconds", default: "10", help: "How long one webhook delivery attempt may take.")
    public static let labelStudioFetchOrigins = ConfigurationKey(
        "labelstudio.fetch_origins", default: "",
        help:
            "Origins (`http://host:port`, comma-separated) whose task images the Label Studio backend may download to predict them, through the webhooks' address guard. Empty: only Iris's own image URLs."
    )
    public static let modelsDirectory = ConfigurationKey(
        "models.dir", default: "models",
        help:
            "Folder of model manifests (`*.json`) and their ONNX files; `scripts/prepare-models.sh` fills it. Problems with a model are reported at start."
    )
    public static let remoteAllow = ConfigurationKey(
        "models.remote_allow", default: "",
        help:
            "Origins (`http://host:port`, comma-separated) remote models may be served from, over the Open Inference Protocol v2. Empty: no remote models."
    )
    public static let idleUnload = ConfigurationKey(
        "models.idle_unload", default: "300",
        help:
            "Seconds a local model may go unused before its ONNX Runtime session is released (0: kept once loaded). Each model is checked at start but loaded by its first analysis (0.03–0.2 s for each bundled graph), so an idle server holds no model in memory."
    )
    public static let onnxRuntime = ConfigurationKey(
        "ml.onnxruntime", default: "vendor/onnxruntime/libonnxruntime.so.1.32.0",
        help: "ONNX Runtime's shared library (set-up installs it from PyPI's `onnxruntime` wheel).")
    public static let mlThreads = ConfigurationKey(
        "ml.threads", default: "0",
        help: "Threads one model run may use (ONNX Runtime intra-op threads); 0 uses one per core.")
    public static let mallocArenas = ConfigurationKey(
        "memory.malloc_arenas", default: "2",
        help:
            "Most glibc malloc arenas `iris serve` and `iris worker` use (0: glibc's default of 8 per core). Fewer arenas keep less freed memory: 2 lowered the peak of analysing 64 concurrent uploads by a fifth at the same speed. `MALLOC_ARENA_MAX` overrides it."
    )
    public static let mlSpinWait = ConfigurationKey(
        "ml.spin_wait", default: "false",
        help:
            "`true` lets ONNX Runtime's threads busy-wait between pieces of work: slightly lower latency for one image at a time, but the spinning threads take the cores decoding needs, so throughput drops when analyses overlap."
    )
    public static let autoAnalysis = ConfigurationKey(
        "analysis.auto_models", default: "mobilenet-v2,open-nsfw,ppocr-v4",
        help:
            "Models every new image is analysed with (comma-separated; empty for none). Unknown or unavailable names are skipped with a warning at start."
    )
    public static let moderationThreshold = ConfigurationKey(
        "moderation.threshold", default: "0.8",
        help:
            "Images whose moderation score is above this are flagged for review and hidden from contributors and viewers; a project may set its own."
    )
    public static let wordnetDirectory = ConfigurationKey(
        "search.wordnet_dir", default: "/usr/share/wordnet",
        help:
            "Where WordNet's database files are (Debian's wordnet-base): text search reaches ImageNet classes through its nouns (\"mammal\" finds a tabby cat)."
    )
    public static let sentenceModel = ConfigurationKey(
        "search.sentence_model", default: "minilm-l3",
        help:
            "The sentence-embedding model that gives text search its sense of meaning: `minilm-l3` (paraphrase-MiniLM-L3-v2) or `minilm-l6` (all-MiniLM-L6-v2: twice the layers, better on phrases, worse on single nouns, no better overall on make bench's queries); its ONNX file is `NAME.onnx` in the models folder."
    )
    public static let learnerModel = ConfigurationKey(
        "learner.model", default: "mobilenet-v2-wordnet",
        help:
            "The embedding model learners and trained classifiers learn over (a model with the `embed` task) in projects that chose none. The default, `mobilenet-v2-wordnet`, is MobileNetV2's embedding with its classes pushed up WordNet (made by the MobileNetV2 analysis, no second inference). Learners over another model are rebuilt over a new setting by a job at start, answering meanwhile."
    )
    public static let learnerSigmas = ConfigurationKey(
        "learner.threshold_sigmas", default: "1.25",
        help:
            "The learner's distance threshold is the mean distance of new members to their classes (pooled over all classes) plus this many standard deviations; farther answers are `unknown`. Lower answers `unknown` more often."
    )
    public static let learnerPrior = ConfigurationKey(
        "learner.prior_distance", default: "0.8",
        help:
            "The threshold (cosine distance, 0–2) while the learner has fewer than 10 member distances in all (every class of one photo has none), blended with the measured one as they come."
    )
    public static let learnerMaxDistance = ConfigurationKey(
        "learner.max_distance", default: "",
        help: "A fixed cosine-distance threshold instead of the measured one (empty: measured).")
    public static let learnerConsolidateInterval = ConfigurationKey(
        "learner.consolidate_seconds", default: "3600",
        help:
            "How often learners changed since their last consolidation are rebuilt exactly from their members (a `learner.consolidate` job)."
    )
    public static let logLevel = ConfigurationKey(
        "log.level", default: "info",
        help:
            "trace, debug, info, notice, warning, error or critical. At debug, libvips's own warnings about odd files are logged too."
    )
    public static let logFormat = ConfigurationKey(
        "log.format", default: "json", help: "`json` (one object per line) or `text`.")

    public static let storageBackend = ConfigurationKey(
        "storage.backend", default: "disk",
        help:
            "Where originals, thumbnails, masks and repairs are kept: `disk` (under data.dir/blobs) or `s3` (a bucket of an S3-compatible service, with the storage.s3 settings; recently read blobs are kept in storage.cache_dir). Move an existing folder with `iris storage migrate`."
    )
    public static let s3Endpoint = ConfigurationKey(
        "storage.s3.endpoint", default: "",
        help:
            "The S3 API's URL: `http://127.0.0.1:9000` for a MinIO or Garage beside Iris, `https://s3.eu-west-1.amazonaws.com` for AWS."
    )
    public static let s3Bucket = ConfigurationKey(
        "storage.s3.bucket", default: "",
        help: "The bucket (it must exist; Iris checks it can write and delete there at start).")
    public static let s3Region = ConfigurationKey(
        "storage.s3.region", default: "us-east-1",
        help: "The region requests are signed for (self-hosted servers usually accept us-east-1).")
    public static let s3Prefix = ConfigurationKey(
        "storage.s3.prefix", default: "",
        help: "Prepended to every key (e.g. `iris/`), to share a bucket; keys are then as under data.dir/blobs.")
    public static let s3PathStyle = ConfigurationKey(
        "storage.s3.path_style", default: "true",
        help:
            "`true`: ENDPOINT/BUCKET/KEY (MinIO, Garage, Ceph, moto); `false`: BUCKET.ENDPOINT-HOST/KEY (AWS's virtual-hosted style)."
    )
    public static let s3AccessKey = ConfigurationKey(
        "storage.s3.access_key", default: "",
        help: "The access key id (else the environment's AWS_ACCESS_KEY_ID). Shown masked by `iris config --values`.")
    public static let s3SecretKey = ConfigurationKey(
        "storage.s3.secret_key", default: "",
        help:
            "The secret access key (else AWS_SECRET_ACCESS_KEY). Never logged; shown masked. Prefer the environment or a config file only Iris can read."
    )
    public static let s3Timeout = ConfigurationKey(
        "storage.s3.timeout", default: "30",
        help: "Seconds one S3 request may take; a request that times out or gets a 5xx is tried again, 4 times in all.")
    public static let s3PublicURL = ConfigurationKey(
        "storage.s3.public_url", default: "",
        help:
            "When set (`https://s3.example.org`), originals and thumbnails are answered with a redirect to a presigned URL there, valid for 15 to 30 minutes, so browsers load the bytes from S3 directly; access is checked by Iris first. The S3 server must see this host."
    )
    public static let cacheDirectory = ConfigurationKey(
        "storage.cache_dir", default: "",
        help:
            "With storage.backend s3: where recently read and written blobs are kept on local disk (default data.dir/cache)."
    )
    public static let cacheMaxMB = ConfigurationKey(
        "storage.cache_max_mb", default: "2048",
        help: "The cache's size cap in MiB; the least recently used blobs are removed beyond it.")

    /// Every key, in the order the documentation lists them.
    public static let all: [ConfigurationKey] = [
        .httpHost, .httpPort, .httpIdleTimeout, .httpHeaderTimeout, .httpTrustedProxies, .dataDirectory, .databaseURL,
        .databasePoolSize,
        .uploadMaxBytes, .imageMaxPixels,
        .thumbnailQuality, .importMaxEntries, .importMaxTotalBytes, .importMaxRatio, .mode, .bcryptCost, .secureCookies,
        .signInLimit, .uploadRateLimit,
        .jobQueues, .jobLeaseSeconds, .jobPrefetch, .jobPollSeconds, .jobGraceSeconds, .jobRetryBaseSeconds,
        .jobRetentionDays, .cleanupInterval, .workerHealthPort,
        .storageBackend, .s3Endpoint, .s3Bucket, .s3Region, .s3Prefix, .s3PathStyle, .s3AccessKey, .s3SecretKey,
        .s3Timeout, .s3PublicURL, .cacheDirectory, .cacheMaxMB,
        .webhookAllowNetworks, .webhookTimeout, .labelStudioFetchOrigins, .modelsDirectory, .remoteAllow, .idleUnload,
        .onnxRuntime, .mlThreads,
        .mlSpinWait,
        .mallocArenas, .autoAnalysis, .moderationThreshold, .wordnetDirectory, .sentenceModel,
        .learnerModel, .learnerSigmas, .learnerPrior, .learnerMaxDistance, .learnerConsolidateInterval,
        .logLevel, .logFormat,
    ]
}
