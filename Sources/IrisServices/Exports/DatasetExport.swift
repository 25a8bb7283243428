public import Foundation
public import IrisBlobs
public import IrisCore
public import IrisStore

/// A project's labelled images as one zip, in the layout a trainer reads (docs/EXPORTS.md):
///
/// - `imagefolder`: one folder per class (`oak/IMG_0001-1a2b3c4d.jpg`), or `train/`, `val/`,
///   `test/` each holding them with `split`; an image with two labels is in both folders.
/// - `yolo`: Ultralytics' classification layout, `train/<class>/…` and `val/<class>/…` (and
///   `test/`): the ImageFolder layout with a split always made.
/// - `csv`: `images/<sha256>.<ext>` and `labels.csv` (path, labels, source, confidence, sha256,
///   split).
/// - `coco`: `images/…` and `annotations.json`: images, categories and one annotation per
///   image and label (classification: no boxes).
/// - `labelstudio`: `images/…` and `tasks.json`, Label Studio tasks whose `choices` result
///   holds the labels.
///
/// Splits are stratified and deterministic: within each class (an image's first label, by
/// name), images are ordered by hash and cut by rank, 70 % train, 15 % val, 15 % test, so each
/// class is split in those shares and the same images give the same split every time (an image
/// added to a class can move the cut by one). Entries are streamed from the blob store into the zip.
public struct DatasetExport: Sendable {
    public enum Format: String, Codable, Sendable, CaseIterable {
        case imagefolder, csv, coco, yolo, labelstudio
    }

    /// Which labels an image carries in the export.
    public struct Include: Codable, Sendable, Equatable {
        /// Labels people gave.
        public var human: Bool
        /// Labels the project's learner gave.
        public var learner: Bool
        /// The top label of the image's classification model, when at least this confident
        /// (nil: none).
        public var modelConfidence: Double?

        public init(human: Bool = true, learner: Bool = true, modelConfidence: Double? = nil) {
            (self.human, self.learner, self.modelConfidence) = (human, learner, modelConfidence)
        }

        enum CodingKeys: String, CodingKey {
            case human, learner
            case modelConfidence = "model_confidence"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            human = try container.decodeIfPresent(Bool.self, forKey: .human) ?? true
            learner = try container.decodeIfPresent(Bool.self, forKey: .learner) ?? true
            modelConfidence = try container.decodeIfPresent(Double.self, forKey: .modelConfidence)
        }
    }

    public struct Request: Codable, Sendable, Equatable {
        public var format: Format
        public var split: Bool
        public var include: Include
        /// Only accepted photos (`true`), or every photo whatever its review state.
        public var onlyAccepted: Bool

        public init(format: Format, split: Bool = false, include: Include = Include(), onlyAccepted: Bool = true) {
            (self.format, self.split, self.include, self.onlyAccepted) = (format, split, include, onlyAccepted)
        }

        enum CodingKeys: String, CodingKey { case format, split, include, onlyAccepted }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            format = try container.decode(Format.self, forKey: .format)
            split = try container.decode(Bool.self, forKey: .split)
            include = try container.decode(Include.self, forKey: .include)
            // Exports queued before review existed: every photo was accepted then.
            onlyAccepted = try container.decodeIfPresent(Bool.self, forKey: .onlyAccepted) ?? true
        }
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var images: Int
        /// Images left out: no label (ImageFolder and YOLO need a class), or their bytes are gone.
        public var skipped: Int
        public var classes: [String]
        public var bytes: Int64
    }

    public let store: IrisStore
    public let blobs: any BlobStore

    public init(store: IrisStore, blobs: any BlobStore) {
        (self.store, self.blobs) = (store, blobs)
    }

    /// One image as it goes out.
    struct Row {
        var member: ProjectImage
        var labels: [Label]
        var split: String?
    }

    /// Writes the export of `projectID` to `file`; `progress` hears (done, total).
    public func write(
        projectID: Int64, _ request: Request, to file: URL, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Summary {
        let rows = try await self.rows(projectID: projectID, request)
        let zip = try ZipWriter(creating: file)
        var written = 0
        var skipped = 0
        var classes: Set<String> = []
        var csv = "path,labels,source,confidence,sha256,split\n"
        var cocoImages: [[String: Any]] = []
        var cocoAnnotations: [[String: Any]] = []
        var tasks: [[String: Any]] = []
        let categories = Array(Set(rows.flatMap { $0.labels.map(\.name) })).sorted()
        let categoryIDs = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0 + 1) })
        for (index, row) in rows.enumerated() {
            try Task.checkCancellation()
            progress(index, rows.count)
            guard let source = try await blobs.localFile(for: .original(row.member.image.sha256)) else {
                skipped += 1
                continue
            }
            let sha256 = row.member.image.sha256
            let ext = Self.fileExtension(row.member.image.format)
            let names = row.labels.map(\.name)
            switch request.format {
            case .imagefolder, .yolo:
                guard !names.isEmpty else {
                    skipped += 1
                    continue
                }
                for name in names {
                    let folder = (row.split.map { $0 + "/" } ?? "") + Self.safe(name)
                    try zip.add("\(folder)/\(Self.fileName(row.member, ext: ext))", file: URL(fileURLWithPath: source))
                }
            case .csv, .coco, .labelstudio:
                let path = "images/\(sha256).\(ext)"
                try zip.add(path, file: URL(fileURLWithPath: source))
                switch request.format {
                case .csv:
                    csv +=
                        [
                            path, names.joined(separator: ";"), row.labels.map(\.source).joined(separator: ";"),
                            row.labels.map { $0.confidence.map { String(format: "%.4f", $0) } ?? "" }.joined(
                                separator: ";"),
                            sha256, row.split ?? "",
                        ].map(Self.csvField).joined(separator: ",") + "\n"
                case .coco:
                    let id = cocoImages.count + 1
                    var image: [String: Any] = [
                        "id": id, "file_name": path, "width": row.member.image.width,
                        "height": row.member.image.height, "sha256": sha256,
                    ]
                    if let split = row.split { image["split"] = split }
                    cocoImages.append(image)
                    for label in row.labels {
                        var annotation: [String: Any] = [
                            "id": cocoAnnotations.count + 1, "image_id": id,
                            "category_id": categoryIDs[label.name] ?? 0,
                            "source": label.source,
                        ]
                        if let confidence = label.confidence { annotation["score"] = confidence }
                        cocoAnnotations.append(annotation)
                    }
                default:
                    var task: [String: Any] = ["data": ["image": path, "sha256": sha256] as [String: Any]]
                    if let split = row.split { task["meta"] = ["split": split] }
                    if !names.isEmpty {
                        task["annotations"] = [
                            [
                                "result": [
                                    [
                                        "from_name": "label", "to_name": "image", "type": "choices",
                                        "value": ["choices": names],
                                    ] as [String: Any]
                                ]
                            ]
                        ]
                    }
                    tasks.append(task)
                }
            }
            classes.formUnion(names)
            written += 1
        }
        switch request.format {
        case .csv: try zip.add("labels.csv", data: Data(csv.utf8))
        case .coco:
            let document: [String: Any] = [
                "info": ["description": "Iris export", "date_created": ISO8601DateFormatter().string(from: Date())],
                "images": cocoImages, "annotations": cocoAnnotations,
                "categories": categories.map { ["id": categoryIDs[$0] ?? 0, "name": $0, "supercategory": ""] },
            ]
            try zip.add(
                "annotations.json", data: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
        case .labelstudio:
            try zip.add("tasks.json", data: try JSONSerialization.data(withJSONObject: tasks, options: [.sortedKeys]))
        case .imagefolder, .yolo: break
        }
        try zip.finish()
        progress(rows.count, rows.count)
        return Summary(
            images: written, skipped: skipped, classes: classes.sorted(), bytes: Int64(zip.bytesWritten))
    }

    /// The project's images with the labels the request takes, and their split.
    func rows(projectID: Int64, _ request: Request) async throws -> [Row] {
        var members: [ProjectImage] = []
        var cursor: Int64?
        repeat {
            let page = try await store.images.list(
                projectID: projectID, filter: ImageFilter(onlyAccepted: request.onlyAccepted), after: cursor, limit: 500
            )
            members += page.items
            cursor = page.nextCursor
        } while cursor != nil
        var top: [String: (label: String, score: Double)] = [:]
        if request.include.modelConfidence != nil {
            for start in stride(from: 0, to: members.count, by: 500) {
                let slice = members[start..<min(start + 500, members.count)].map(\.image.sha256)
                top.merge(try await store.analyses.topLabels(sha256s: slice)) { first, _ in first }
            }
        }
        var rows = members.map { member -> Row in
            var labels = member.labels.filter {
                $0.source == Label.humanSource ? request.include.human : request.include.learner
            }
            if let minimum = request.include.modelConfidence, let best = top[member.image.sha256],
                best.score >= minimum, !labels.contains(where: { $0.name == best.label })
            {
                labels.append(Label(name: best.label, source: "model", confidence: best.score))
            }
            return Row(member: member, labels: labels.sorted { $0.name < $1.name }, split: nil)
        }
        if request.split || request.format == .yolo {
            let splits = Self.splits(rows.map { ($0.member.image.sha256, $0.labels.first?.name ?? "") })
            for index in rows.indices { rows[index].split = splits[rows[index].member.image.sha256] }
        }
        return rows
    }

    /// Each photo's split (`train`, `val`, `test`) by the rule above: within its first label's
    /// photos, by its rank in hash order.
    public static func splits(_ photos: [(sha256: String, firstLabel: String)]) -> [String: String] {
        var result: [String: String] = [:]
        for (_, members) in Dictionary(grouping: photos, by: \.firstLabel) {
            let ordered = members.map(\.sha256).sorted()
            for (position, sha256) in ordered.enumerated() { result[sha256] = split(position, of: ordered.count) }
        }
        return result
    }

    /// The split of the image at `position` (in hash order) of its class's `count`: the first
    /// 70 % train, the next 15 % val, the last 15 % test, by rank, so every class is split in
    /// those shares whatever its size (11 images: 8, 1, 2).
    static func split(_ position: Int, of count: Int) -> String {
        let rank = (Double(position) + 0.5) / Double(max(count, 1))
        return rank < 0.7 ? "train" : rank < 0.85 ? "val" : "test"
    }

    static func fileExtension(_ format: ImageFormat) -> String {
        switch format {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        case .heif: "heic"
        case .gif: "gif"
        case .tiff: "tif"
        }
    }

    /// `IMG_0001-1a2b3c4d.jpg`: the original name's stem, made safe, and the hash's start.
    static func fileName(_ member: ProjectImage, ext: String) -> String {
        let original = member.originalName.map { ($0 as NSString).deletingPathExtension } ?? ""
        let stem = safe(original).prefix(80)
        let hash = member.image.sha256.prefix(8)
        return stem.isEmpty ? "\(member.image.sha256).\(ext)" : "\(stem)-\(hash).\(ext)"
    }

    /// A label or name as one path segment: no separators, no control characters, no dots alone.
    static func safe(_ text: String) -> String {
        let cleaned = String(
            text.unicodeScalars.map { scalar -> Character in
                scalar == "/" || scalar == "\\" || scalar.properties.generalCategory == .control
                    ? "_" : Character(scalar)
            })
        return cleaned == "." || cleaned == ".." ? "_" : cleaned
    }

    /// One CSV cell. A cell a spreadsheet would take as a formula (=, +, -, @, tab or carriage
    /// return first: a contributor can type `=HYPERLINK(…)` as a label) is kept as text by a
    /// leading apostrophe, as OWASP's advice on CSV injection has it.
    static func csvField(_ raw: String) -> String {
        let text = raw.first.map { "=+-@\t\r".contains($0) } == true ? "'" + raw : raw
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
