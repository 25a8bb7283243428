import IrisClient
import PhotosUI
import SwiftUI

/// Thin on purpose: everything that can go wrong (hashing, the journal, retries, refusals)
/// lives in IrisClient's UploadQueue, which is tested on Linux against the real server.
@main
struct IrisUploaderApp: App {
    var body: some Scene {
        WindowGroup { UploadView() }
    }
}

@MainActor
final class Uploads: ObservableObject {
    @Published var progress = UploadQueue.Progress()
    @Published var problem: String?
    private var queue: UploadQueue?
    private var running: Task<Void, Never>?

    func connect(server: String, token: String) {
        do {
            guard let url = URL(string: server) else { throw IrisClientError.unexpected("not an address: \(server)") }
            let folder = try FileManager.default.url(
                for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
            ).appendingPathComponent("uploads")
            let queue = try UploadQueue(folder: folder, client: try IrisClient(server: url, token: token))
            self.queue = queue
            Task {
                _ = await queue.observe { progress in Task { @MainActor in self.progress = progress } }
                self.start()
            }
        } catch {
            problem = "\(error)"
        }
    }

    func add(_ items: [PhotosPickerItem], label: String, project: Int) async {
        guard let queue else { return }
        for item in items {
            guard let data = try? await item.loadTransferable(type: Data.self) else { continue }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString + ".jpg")
            do {
                try data.write(to: file)
                try await queue.add(file, labels: label.isEmpty ? [] : [label], project: project, copy: true)
                try? FileManager.default.removeItem(at: file)
            } catch {
                problem = "\(error)"
            }
        }
        start()
    }

    /// Runs the queue; it retries by itself while the network is away.
    func start() {
        guard running == nil, let queue else { return }
        running = Task {
            try? await queue.run()
            running = nil
        }
    }
}

struct UploadView: View {
    @StateObject private var uploads = Uploads()
    @AppStorage("server") private var server = "http://192.168.1.10:8080"
    @AppStorage("token") private var token = ""
    @AppStorage("project") private var project = 1
    @State private var label = ""
    @State private var picked: [PhotosPickerItem] = []

    var body: some View {
        Form {
            Section("Server") {
                TextField("Address", text: $server)
                SecureField("API token", text: $token)
                Stepper("Project \(project)", value: $project, in: 1...100_000)
                Button("Connect") { uploads.connect(server: server, token: token) }
            }
            Section("Photos") {
                TextField("Label", text: $label)
                PhotosPicker("Choose photos", selection: $picked, matching: .images)
                    .onChange(of: picked) {
                        let chosen = picked
                        picked = []
                        Task { await uploads.add(chosen, label: label, project: project) }
                    }
            }
            Section("Queue") {
                ProgressView(value: Double(uploads.progress.done), total: Double(max(uploads.progress.total, 1)))
                Text(
                    "\(uploads.progress.uploaded) sent, \(uploads.progress.alreadyThere) already there, \(uploads.progress.refused) refused, \(uploads.progress.waiting) waiting"
                )
                if let retrying = uploads.progress.retrying { Text(retrying).foregroundStyle(.orange) }
                if let problem = uploads.problem { Text(problem).foregroundStyle(.red) }
            }
        }
    }
}
