public import Foundation
public import IrisCore

/// The part of a Label Studio labelling config Iris can answer: a `<Choices>` control over an
/// `<Image>` object (image classification). Label Studio's config is XML; Iris reads only the
/// tags' names and attributes (no entities beyond XML's five, no DTD), which is all these two
/// tags need, and never builds a tree.
public struct LabelStudioConfig: Sendable, Equatable {
    /// The `<Choices name>`: predictions' `from_name`.
    public var fromName: String
    /// The `<Image name>` it labels: predictions' `to_name`.
    public var toName: String
    /// The task data key holding the image URL (`value="$image"` → `image`).
    public var dataKey: String
    /// The `<Choice value>`s, in order.
    public var choices: [String]

    public init(fromName: String, toName: String, dataKey: String, choices: [String]) {
        (self.fromName, self.toName, self.dataKey, self.choices) = (fromName, toName, dataKey, choices)
    }

    /// The most characters a config may hold (Label Studio's own are a few thousand; a thousand
    /// choices fit in 40,000).
    public static let maxLength = 65536

    /// The first `<Choices>` whose `toName` names an `<Image>` with a `$key` value; a refusal
    /// naming `field` when there is none.
    public static func parse(_ text: String, field: String = "label_config") throws -> LabelStudioConfig {
        guard text.count <= maxLength else {
            throw Refusal.invalid("\(field) is longer than \(maxLength) characters", field: field)
        }
        var images: [String: String] = [:]
        var controls: [(name: String, toName: String, choices: [String])] = []
        var open: (name: String, toName: String, choices: [String])?
        for tag in tags(in: text) {
            switch tag.name.lowercased() {
            case "image":
                if let name = tag.attributes["name"], let value = tag.attributes["value"], value.hasPrefix("$"),
                    value.count > 1
                {
                    images[name] = String(value.dropFirst())
                }
            case "choices" where !tag.closing:
                let control: (name: String, toName: String, choices: [String]) = (
                    tag.attributes["name"] ?? "", tag.attributes["toName"] ?? "", []
                )
                if tag.selfClosing { controls.append(control) } else { open = control }
            case "choices":
                if let control = open { controls.append(control) }
                open = nil
            case "choice" where !tag.closing:
                if let value = tag.attributes["value"], open != nil { open?.choices.append(value) }
            default:
                break
            }
        }
        for control in controls where !control.name.isEmpty {
            // `toName` may list several objects ("image,thumb"): the first image among them.
            for target in control.toName.split(separator: ",").map(String.init) {
                if let key = images[target] {
                    return LabelStudioConfig(
                        fromName: control.name, toName: target, dataKey: key, choices: control.choices)
                }
            }
        }
        throw Refusal.invalid(
            "\(field) has no <Choices> control over an <Image> object with a $-variable value: Iris answers image classification only",
            field: field)
    }

    /// The choice that names `label`: the same text, else the same text in another case.
    public func choice(for label: String) -> String? {
        choices.first { $0 == label } ?? choices.first { $0.lowercased() == label.lowercased() }
    }

    struct Tag {
        var name: String
        var attributes: [String: String]
        var closing: Bool
        var selfClosing: Bool
    }

    /// Every start, end and empty-element tag, skipping comments, processing instructions and
    /// declarations. Linear in the text's length.
    static func tags(in text: String) -> [Tag] {
        let bytes = Array(text.utf8)
        var tags: [Tag] = []
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<") else {
                index += 1
                continue
            }
            // <!-- … -->, <? … ?>, <!DOCTYPE …>: skipped to their end.
            if index + 3 < bytes.count, bytes[index + 1] == UInt8(ascii: "!"), bytes[index + 2] == UInt8(ascii: "-"),
                bytes[index + 3] == UInt8(ascii: "-")
            {
                index = end(of: [UInt8]("-->".utf8), in: bytes, from: index + 4)
                continue
            }
            if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "!") || bytes[index + 1] == UInt8(ascii: "?") {
                index = end(of: [UInt8(ascii: ">")], in: bytes, from: index + 2)
                continue
            }
            let (tag, next) = readTag(bytes, from: index + 1)
            if let tag { tags.append(tag) }
            index = next
        }
        return tags
    }

    /// The index just past `marker` from `start`, or the end of the text.
    static func end(of marker: [UInt8], in bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index + marker.count <= bytes.count {
            if Array(bytes[index..<(index + marker.count)]) == marker { return index + marker.count }
            index += 1
        }
        return bytes.count
    }

    /// One tag after its `<`: its name, attributes and kind, and the index after its `>`.
    static func readTag(_ bytes: [UInt8], from start: Int) -> (Tag?, Int) {
        var index = start
        var closing = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            closing = true
            index += 1
        }
        func isNameByte(_ byte: UInt8) -> Bool {
            !(byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
                || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "<"))
        }
        let nameStart = index
        while index < bytes.count, isNameByte(bytes[index]) { index += 1 }
        guard index > nameStart else { return (nil, index) }
        var tag = Tag(
            name: String(decoding: bytes[nameStart..<index], as: UTF8.self), attributes: [:], closing: closing,
            selfClosing: false)
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ">") { return (tag, index + 1) }
            if byte == UInt8(ascii: "<") { return (nil, index) }
            if byte == UInt8(ascii: "/") {
                tag.selfClosing = true
                index += 1
                continue
            }
            guard isNameByte(byte) else {
                index += 1
                continue
            }
            let attributeStart = index
            while index < bytes.count, isNameByte(bytes[index]) { index += 1 }
            let attribute = String(decoding: bytes[attributeStart..<index], as: UTF8.self)
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { continue }
            index += 1
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                continue
            }
            let quote = bytes[index]
            let valueStart = index + 1
            index = valueStart
            while index < bytes.count, bytes[index] != quote { index += 1 }
            tag.attributes[attribute] = unescaped(
                String(decoding: bytes[valueStart..<min(index, bytes.count)], as: UTF8.self))
            index += 1
        }
        return (nil, index)
    }

    /// XML's five named entities and numeric references.
    static func unescaped(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var rest = Substring(text)
        while let ampersand = rest.firstIndex(of: "&") {
            result += rest[..<ampersand]
            guard let semicolon = rest[ampersand...].prefix(12).firstIndex(of: ";") else {
                result += rest[ampersand...]
                return result
            }
            let entity = rest[rest.index(after: ampersand)..<semicolon]
            let named = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]
            if let value = named[String(entity)] {
                result += value
            } else if entity.hasPrefix("#x"), let code = UInt32(entity.dropFirst(2), radix: 16),
                let scalar = Unicode.Scalar(code)
            {
                result.unicodeScalars.append(scalar)
            } else if entity.hasPrefix("#"), let code = UInt32(entity.dropFirst()), let scalar = Unicode.Scalar(code) {
                result.unicodeScalars.append(scalar)
            } else {
                result += rest[ampersand...semicolon]
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }
}

/// Where a Label Studio task's image is: one of Iris's own photos (by hash, read without HTTP)
/// or a URL elsewhere, which is downloaded only from an allowed origin.
public enum LabelStudioImage: Sendable, Equatable {
    case iris(sha256: String)
    case remote(URL)
}

/// Reading image references out of tasks.
public enum LabelStudioTask {
    /// `url` as an Iris image: a path `/api/v1/images/{sha256}[/original|/thumbnail]` or
    /// `/api/v1/projects/{id}/images/{sha256}…`, relative or on `host` (the `Host` Label Studio
    /// called Iris with). Any other absolute http(s) URL is remote; anything else nil.
    public static func image(_ text: String, irisHost: String?) -> LabelStudioImage? {
        guard text.utf8.count <= 4096, let url = URL(string: text) else { return nil }
        let segments = url.path.split(separator: "/").map(String.init)
        var sha256: String?
        if segments.count >= 4, segments[0] == "api", segments[1] == "v1", segments[2] == "images" {
            sha256 = segments[3]
        } else if segments.count >= 6, segments[0] == "api", segments[1] == "v1", segments[2] == "projects",
            segments[4] == "images"
        {
            sha256 = segments[5]
        }
        if let sha256, sha256.count == 64, sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            if url.host == nil && url.scheme == nil { return .iris(sha256: sha256) }
            if let irisHost, let host = url.host {
                let named = url.port.map { "\(host):\($0)" } ?? host
                if named.lowercased() == irisHost.lowercased() { return .iris(sha256: sha256) }
            }
        }
        guard origin(of: url) != nil else { return nil }
        return .remote(url)
    }

    /// `scheme://host:port` in lower case with the default port written out; nil for anything
    /// but a plain http(s) URL (no user name or password).
    public static func origin(of url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host?.lowercased(), !host.isEmpty, url.user == nil, url.password == nil
        else { return nil }
        return "\(scheme)://\(host):\(url.port ?? (scheme == "https" ? 443 : 80))"
    }
}
