public import Foundation
public import IrisCore

/// The layouts an import reads: the five an export writes (docs/IMPORTS.md).
public enum ImportFormat: String, Sendable, CaseIterable, Codable {
    case imagefolder, yolo, csv, coco, labelstudio

    /// `imagefolder, yolo, csv, coco or labelstudio`, for messages.
    public static var spelled: String {
        let names = allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

/// What an import will store, decided from the archive's listing (and its manifest, for the
/// formats that have one) before anything is stored.
public struct ImportPlan: Sendable {
    public var format: ImportFormat
    /// The image files to ingest, each with its labels, in the listing's or manifest's order.
    public var items: [ImportItem]
    /// Files that a manifest does not name: reported as skipped, never stored.
    public var unlisted: [String]
    /// Labels added to the project's label set for this import.
    public var created: [String] = []
}

/// Reads a listing as one of the formats: the folder layouts from paths alone, COCO, Label
/// Studio and CSV from their manifest. Every fault is a 400 naming the file and where in it
/// (a JSON path such as `images[3].file_name`, or a CSV line), so a user can fix it.
public enum ImportLayouts {
    /// Folder names that split a YOLO classification dataset.
    static let splitFolders: Set<String> = ["train", "val", "test", "valid"]

    /// Plans an import of `files` (paths with `/`, hidden files already left out). `read`
    /// gives a manifest's bytes; `labelFromFolders` says whether folder layouts give labels.
    public static func plan(
        format named: ImportFormat?, files: [String], labelFromFolders: Bool, read: (String) throws -> Data
    ) throws -> ImportPlan {
        // The manifests, read only when the format may have one: a COCO document is a JSON
        // object with `images`, a Label Studio export an array of tasks (objects with `data`).
        // Other JSON is not a manifest; JSON that does not parse is a 400 naming where.
        var objects: [(path: String, data: Data)] = []
        var arrays: [(path: String, data: Data)] = []
        if named == nil || named == .coco || named == .labelstudio {
            for path in files where path.lowercased().hasSuffix(".json") {
                let data = try read(path)
                let parsed: Any
                do {
                    parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
                } catch {
                    _ = try decode(AnyJSON.self, from: data, at: path)
                    throw Refusal.invalid("\(path) is not valid JSON", field: "file")
                }
                if let object = parsed as? [String: Any], object["images"] != nil {
                    objects.append((path, data))
                } else if let tasks = parsed as? [Any], tasks.allSatisfy({ ($0 as? [String: Any])?["data"] != nil }) {
                    arrays.append((path, data))
                }
            }
        }
        let csvs = files.filter { $0.lowercased().hasSuffix(".csv") }
        let format =
            try named ?? detect(files: files, coco: objects.map(\.path), labelStudio: arrays.map(\.path), csv: csvs)
        let manifests: Set<String> =
            switch format {
            case .imagefolder, .yolo: []
            case .coco: Set(objects.map(\.path))
            case .labelstudio: Set(arrays.map(\.path))
            case .csv: Set(csvs)
            }
        let index = FileIndex(files.filter { !manifests.contains($0) })
        var items: [ImportItem]
        switch format {
        case .imagefolder, .yolo:
            items = index.paths.map { ImportItem(path: $0, declaredBytes: 0) }
            if labelFromFolders { items = try folderLabels(items, yolo: format == .yolo) }
            return ImportPlan(format: format, items: items, unlisted: [])
        case .coco:
            guard !objects.isEmpty else {
                throw Refusal.invalid(
                    "the zip holds no COCO annotations file (a .json object with images, categories and annotations)",
                    field: "file")
            }
            items = try objects.flatMap { try coco($0.data, at: $0.path, in: index) }
        case .labelstudio:
            guard !arrays.isEmpty else {
                throw Refusal.invalid(
                    "the zip holds no Label Studio export (a .json array of tasks, each with data)", field: "file")
            }
            items = try arrays.flatMap { try labelStudio($0.data, at: $0.path, in: index) }
        case .csv:
            guard !csvs.isEmpty else { throw Refusal.invalid("the zip holds no .csv file", field: "file") }
            items = try csvs.flatMap { try csv(try read($0), at: $0, in: index) }
        }
        items = merged(items)
        let listed = Set(items.map(\.path))
        return ImportPlan(format: format, items: items, unlisted: index.paths.filter { !listed.contains($0) })
    }

    /// The format a listing is in, from what it holds: a COCO object, a Label Studio array, a
    /// CSV, or else folders (YOLO when every file is in `train/`, `val/`, `test/` class folders).
    static func detect(files: [String], coco: [String], labelStudio: [String], csv: [String]) throws -> ImportFormat {
        let found = [(ImportFormat.coco, coco), (.labelstudio, labelStudio), (.csv, csv)].filter { !$0.1.isEmpty }
        if found.count > 1 {
            let kinds = found.map { "\($0.0.rawValue) (\($0.1.prefix(3).joined(separator: ", ")))" }
            throw Refusal.invalid(
                "the zip holds files of more than one format: \(kinds.joined(separator: " and ")); name the format with format",
                field: "format")
        }
        if let first = found.first { return first.0 }
        // Notes beside the images (a README, a data.yaml) do not decide the layout.
        let notes: Set<String> = ["json", "csv", "txt", "md", "yaml", "yml"]
        var split = files.filter { !notes.contains(($0 as NSString).pathExtension.lowercased()) }
            .map { $0.split(separator: "/").map(String.init) }
        // One folder wrapping everything is not part of the layout.
        if let top = split.first?.first, split.allSatisfy({ $0.count >= 2 && $0.first == top }),
            !splitFolders.contains(top)
        {
            split = split.map { Array($0.dropFirst()) }
        }
        let yolo = !split.isEmpty && split.allSatisfy { $0.count >= 3 && splitFolders.contains($0[0]) }
        return yolo ? .yolo : .imagefolder
    }

    /// Each item labelled with the folder it is in. A single top folder wrapping everything
    /// (how most zips of a dataset look) is not a class; in YOLO's layout every file must sit
    /// in a class folder under its split.
    static func folderLabels(_ items: [ImportItem], yolo: Bool) throws -> [ImportItem] {
        let split = items.map { $0.path.split(separator: "/").map(String.init) }
        let tops = Set(split.compactMap(\.first))
        let wrapped = tops.count == 1 && split.allSatisfy { $0.count >= 3 }
        return try zip(items, split).map { item, components in
            var copy = item
            let folders = Array(
                components.dropLast().dropFirst(wrapped && !splitFolders.contains(components[0]) ? 1 : 0))
            if yolo && (folders.count < 2 || !splitFolders.contains(folders[folders.count - 2])) {
                throw Refusal.invalid(
                    "\(item.path) is not in a class folder under train/, val/ or test/ (YOLO's layout is train/<class>/<image>)",
                    field: "file")
            }
            if let folder = folders.last {
                copy.labels = [try validatedLabel(folder, at: "folder \(folder)")]
            }
            return copy
        }
    }

    // MARK: - COCO

    struct CocoDocument: Decodable {
        struct Image: Decodable {
            var id: Int64
            var fileName: String
        }
        struct Category: Decodable {
            var id: Int64
            var name: String
        }
        struct Annotation: Decodable {
            var imageId: Int64
            var categoryId: Int64
        }
        var images: [Image]
        var categories: [Category]
        var annotations: [Annotation]?
    }

    /// A COCO document's images, each labelled with its annotations' categories.
    static func coco(_ data: Data, at path: String, in index: FileIndex) throws -> [ImportItem] {
        let document = try decode(CocoDocument.self, from: data, at: path)
        var names: [Int64: String] = [:]
        for (position, category) in document.categories.enumerated() {
            guard names[category.id] == nil else {
                throw Refusal.invalid(
                    "\(path): categories[\(position)] repeats category id \(category.id)", field: "file")
            }
            names[category.id] = try validatedLabel(category.name, at: "\(path): categories[\(position)].name")
        }
        var labels: [Int64: [String]] = [:]
        for (position, annotation) in (document.annotations ?? []).enumerated() {
            guard let name = names[annotation.categoryId] else {
                throw Refusal.invalid(
                    "\(path): annotations[\(position)] names category_id \(annotation.categoryId), which no category has",
                    field: "file")
            }
            labels[annotation.imageId, default: []].append(name)
        }
        let folder = directory(of: path)
        var seen: Set<Int64> = []
        var items: [ImportItem] = []
        for (position, image) in document.images.enumerated() {
            guard seen.insert(image.id).inserted else {
                throw Refusal.invalid("\(path): images[\(position)] repeats image id \(image.id)", field: "file")
            }
            let place = "\(path): images[\(position)].file_name"
            let file = try index.resolve(image.fileName, from: folder, describedAs: place)
            items.append(ImportItem(path: file, labels: labels.removeValue(forKey: image.id) ?? []))
        }
        if let orphan = labels.keys.min() {
            throw Refusal.invalid("\(path): an annotation names image_id \(orphan), which no image has", field: "file")
        }
        return items
    }

    // MARK: - Label Studio

    struct LabelStudioTask: Decodable {
        struct Annotation: Decodable {
            struct Result: Decodable {
                struct Value: Decodable { var choices: [String]? }
                var type: String?
                var value: Value?
            }
            var result: [Result]?
            var wasCancelled: Bool?
        }
        var data: [String: TextOrOther]
        var annotations: [Annotation]?
    }

    /// Any JSON value, read for its syntax alone.
    struct AnyJSON: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// A JSON value that is a string, or anything else (which is kept out of the way).
    enum TextOrOther: Decodable {
        case text(String)
        case other

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            self = (try? value.decode(String.self)).map(TextOrOther.text) ?? .other
        }

        var text: String? { if case .text(let text) = self { text } else { nil } }
    }

    /// A Label Studio JSON export's tasks: the image in `data.image` (or the task's only text
    /// value), its labels the `choices` of its annotations that were not cancelled.
    static func labelStudio(_ data: Data, at path: String, in index: FileIndex) throws -> [ImportItem] {
        let tasks = try decode([LabelStudioTask].self, from: data, at: path)
        let folder = directory(of: path)
        return try tasks.enumerated().map { position, task in
            let texts = task.data.compactMapValues(\.text)
            guard let reference = task.data["image"]?.text ?? (texts.count == 1 ? texts.first?.value : nil) else {
                throw Refusal.invalid(
                    "\(path): task \(position) ([\(position)].data) has no image: Iris reads data.image", field: "file")
            }
            let place = "\(path): [\(position)].data.image"
            let file = try index.resolve(labelStudioPath(reference), from: folder, describedAs: place)
            var labels: [String] = []
            for (number, annotation) in (task.annotations ?? []).enumerated() where annotation.wasCancelled != true {
                for (slot, result) in (annotation.result ?? []).enumerated() where result.type == "choices" {
                    for (choice, name) in (result.value?.choices ?? []).enumerated() {
                        labels.append(
                            try validatedLabel(
                                name,
                                at:
                                    "\(path): [\(position)].annotations[\(number)].result[\(slot)].value.choices[\(choice)]"
                            ))
                    }
                }
            }
            return ImportItem(path: file, labels: labels)
        }
    }

    /// The file a Label Studio image reference names: an upload's URL (`/data/upload/3/…`, a
    /// full `http://…`, or local storage's `?d=folder/file`) by its file name, a relative path as it is.
    static func labelStudioPath(_ reference: String) -> String {
        guard reference.contains("://") || reference.hasPrefix("/data/"), let url = URLComponents(string: reference)
        else { return reference }
        if let stored = url.queryItems?.first(where: { $0.name == "d" })?.value {
            return String(stored.split(separator: "/").last ?? "")
        }
        return String(url.path.split(separator: "/").last ?? "")
    }

    // MARK: - CSV

    /// Column names that mark a first row as a header.
    static let pathHeaders: Set<String> = ["path", "file", "filename", "file_name", "image"]

    /// A CSV of `path,label[,label…]` rows (a header row is optional), or Iris's own with a
    /// header naming `path` and `labels` (several labels joined by `;`, other columns ignored).
    /// Paths are relative to the CSV's folder (or to the top of the zip).
    static func csv(_ data: Data, at path: String, in index: FileIndex) throws -> [ImportItem] {
        guard var text = String(data: data, encoding: .utf8) else {
            throw Refusal.invalid("\(path) is not UTF-8 text", field: "file")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var rows = try csvRows(text, at: path)
        var pathColumn = 0
        var labelsColumn: Int?
        if let header = rows.first,
            pathHeaders.contains(header.cells[0].trimmingCharacters(in: .whitespaces).lowercased())
        {
            let names = header.cells.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            pathColumn = names.firstIndex { pathHeaders.contains($0) } ?? 0
            labelsColumn = names.firstIndex(of: "labels")
            rows.removeFirst()
        }
        let folder = directory(of: path)
        var items: [ImportItem] = []
        for row in rows {
            if row.cells.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            let needed = max(pathColumn, labelsColumn ?? 0) + 1
            guard row.cells.count >= needed else {
                throw Refusal.invalid(
                    "\(path) line \(row.line): \(row.cells.count) cell(s), but the header needs \(needed)",
                    field: "file")
            }
            let raw = row.cells[pathColumn].trimmingCharacters(in: .whitespaces)
            guard !raw.isEmpty else {
                throw Refusal.invalid("\(path) line \(row.line): the path is empty", field: "file")
            }
            let file = try index.resolve(raw, from: folder, describedAs: "\(path) line \(row.line)")
            let cells =
                if let labelsColumn {
                    row.cells[labelsColumn].split(separator: ";").map(String.init)
                } else {
                    Array(row.cells.dropFirst(pathColumn + 1))
                }
            var labels: [String] = []
            for cell in cells {
                let name = unescapedFormula(cell.trimmingCharacters(in: .whitespaces))
                if name.isEmpty { continue }
                labels.append(try validatedLabel(name, at: "\(path) line \(row.line)"))
            }
            items.append(ImportItem(path: file, labels: labels))
        }
        return items
    }

    /// A label as it was before the export kept it from running as a formula (`'=x` → `=x`).
    static func unescapedFormula(_ cell: String) -> String {
        guard cell.hasPrefix("'"), let next = cell.dropFirst().first, "=+-@\t\r".contains(next) else { return cell }
        return String(cell.dropFirst())
    }

    /// RFC 4180 rows with the line each starts on: cells split by commas, quoted cells may hold
    /// commas, doubled quotes and line breaks; `\r\n` and `\n` both end a row.
    static func csvRows(_ text: String, at path: String) throws -> [(line: Int, cells: [String])] {
        var rows: [(line: Int, cells: [String])] = []
        var cells: [String] = []
        var cell: [UInt8] = []
        var line = 1
        var rowLine = 1
        var quoted = false
        var afterQuote = false
        let bytes = Array(text.utf8)
        var position = 0
        func endCell() {
            cells.append(String(decoding: cell, as: UTF8.self))
            cell.removeAll(keepingCapacity: true)
            afterQuote = false
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if position < bytes.count && bytes[position] == UInt8(ascii: "\"") {
                        cell.append(byte)
                        position += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    cell.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: ","):
                endCell()
            case UInt8(ascii: "\r") where position < bytes.count && bytes[position] == UInt8(ascii: "\n"):
                continue
            case UInt8(ascii: "\n"):
                endCell()
                rows.append((rowLine, cells))
                cells.removeAll()
                line += 1
                rowLine = line
            case UInt8(ascii: "\"") where cell.isEmpty && !afterQuote:
                quoted = true
            default:
                guard !afterQuote else {
                    throw Refusal.invalid(
                        "\(path) line \(line): text follows a closing quote; a quote inside a quoted cell is written twice (\"\")",
                        field: "file")
                }
                cell.append(byte)
            }
        }
        if quoted {
            throw Refusal.invalid("\(path) line \(rowLine): a quoted cell is never closed", field: "file")
        }
        if !cell.isEmpty || !cells.isEmpty || afterQuote {
            endCell()
            rows.append((rowLine, cells))
        }
        return rows
    }

    // MARK: - Shared

    /// The files of a listing, found by path or, for manifests that name only a file (COCO's
    /// `file_name` beside `train2017/`, Label Studio's upload URLs), by a file name held once.
    struct FileIndex {
        var paths: [String]
        var all: Set<String>
        var byName: [String: [String]]

        init(_ paths: [String]) {
            self.paths = paths
            all = Set(paths)
            byName = Dictionary(grouping: paths) { String($0.split(separator: "/").last ?? "") }
        }

        /// The file `raw` names, relative to `folder` or to the top; 400 when it points outside
        /// the archive, is not in it, or is a file name that several folders hold.
        func resolve(_ raw: String, from folder: String, describedAs place: String) throws -> String {
            let cleaned = raw.replacingOccurrences(of: "\\", with: "/")
            let components = cleaned.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
            if cleaned.hasPrefix("/") || components.contains("..") || raw.contains("\0")
                || (components.first?.hasSuffix(":") ?? false)
            {
                throw Refusal.invalid(
                    "\(place): \"\(raw)\" points outside the archive; nothing was imported", field: "file")
            }
            let relative = components.joined(separator: "/")
            for candidate in [folder.isEmpty ? relative : folder + "/" + relative, relative]
            where all.contains(candidate) {
                return candidate
            }
            if let name = components.last, let holders = byName[String(name)] {
                if holders.count == 1 { return holders[0] }
                throw Refusal.invalid(
                    "\(place): \"\(raw)\" is not in the zip at that path, and \(holders.count) files are named \(name) (\(holders.prefix(3).joined(separator: ", ")))",
                    field: "file")
            }
            throw Refusal.invalid("\(place): \"\(raw)\" is not in the zip", field: "file")
        }
    }

    /// The folder a path is in, "" at the top.
    static func directory(of path: String) -> String {
        path.split(separator: "/").dropLast().joined(separator: "/")
    }

    /// A manifest decoded, or a 400 naming the file and the place in it.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, at path: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                // Foundation's parser says where it stopped ("… around line 3, column 7.").
                let why =
                    context.underlyingError.map {
                        ($0 as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? String(describing: $0)
                    } ?? context.debugDescription
                throw Refusal.invalid("\(path) is not valid JSON: \(why)", field: "file")
            }
            // `images[3].file_name`, as the user would point at it.
            let detail = IrisJSON.describe(error).replacingOccurrences(of: ".[", with: "[")
            throw Refusal.invalid("\(path): \(detail)", field: "file")
        }
    }

    /// A label checked as people's labels are (length, no control or invisible characters).
    static func validatedLabel(_ raw: String, at place: String) throws -> String {
        do {
            return try NameRules.validated(raw, field: "label", maxLength: NameRules.maxLabel)
        } catch let refusal as Refusal {
            throw Refusal.invalid("\(place): \(refusal.detail)", field: "file")
        }
    }

    /// One item per file, its labels gathered from every row or image entry naming it.
    static func merged(_ items: [ImportItem]) -> [ImportItem] {
        var order: [String] = []
        var byPath: [String: ImportItem] = [:]
        for item in items {
            if var existing = byPath[item.path] {
                for label in item.labels where !existing.labels.contains(label) { existing.labels.append(label) }
                byPath[item.path] = existing
            } else {
                var first = item
                var unique: [String] = []
                for label in item.labels where !unique.contains(label) { unique.append(label) }
                first.labels = unique
                byPath[item.path] = first
                order.append(item.path)
            }
        }
        return order.compactMap { byPath[$0] }
    }

    // MARK: - Label set

    /// Labels as the project's label set spells them (a label differing only in case is that
    /// label); labels the set lacks refuse the import, listed, unless `createLabels`, which
    /// answers them to add. A project without a label set takes any label.
    public static func mapLabels(_ items: [ImportItem], onto project: Project, createLabels: Bool) throws -> (
        items: [ImportItem], created: [String]
    ) {
        guard let allowed = project.labelSet else { return (items, []) }
        let exact = Set(allowed)
        let folded = Dictionary(grouping: allowed) { $0.lowercased() }
        var unknown: [String] = []
        var mapping: [String: String] = [:]
        for name in items.flatMap(\.labels) where mapping[name] == nil {
            if exact.contains(name) {
                mapping[name] = name
            } else if let matches = folded[name.lowercased()], matches.count == 1 {
                mapping[name] = matches[0]
            } else {
                mapping[name] = name
                unknown.append(name)
            }
        }
        if !unknown.isEmpty && !createLabels {
            let shown = unknown.prefix(50).map { "\"\($0)\"" }.joined(separator: ", ")
            let more = unknown.count > 50 ? " and \(unknown.count - 50) more" : ""
            throw Refusal.invalid(
                "\(unknown.count) label(s) are not in project \(project.name)'s label set: \(shown)\(more); add them to the label set, or import with create_labels (iris import --create-labels); nothing was imported",
                field: "label")
        }
        if allowed.count + unknown.count > NameRules.maxLabelSet {
            throw Refusal.invalid(
                "creating \(unknown.count) label(s) would give project \(project.name) more than \(NameRules.maxLabelSet); nothing was imported",
                field: "label")
        }
        let mapped = items.map { item in
            var copy = item
            var labels: [String] = []
            for label in item.labels.compactMap({ mapping[$0] }) where !labels.contains(label) { labels.append(label) }
            copy.labels = labels
            return copy
        }
        return (mapped, unknown)
    }
}
