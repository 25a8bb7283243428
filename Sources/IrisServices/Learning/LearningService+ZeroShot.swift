import Foundation
import IrisCore
public import IrisML
import IrisStore

/// Classes from a name alone (zero-shot), for projects whose learner's model is the image side
/// of a vision–language pair (CLIP): the class starts with no photo, its prototype the text
/// embedding of "a photo of a <name>", and its photos take over as they arrive (labelled photos
/// join it as for any class).
extension LearningService {
    /// The learner's model's text side, when the model is a vision–language pair's image side.
    public func textSide(of model: String) -> CLIPTextEncoder? {
        models.visionLanguagePair(image: model)?.text.textEncoder
    }

    /// Makes a class of `name` with no photo yet. 409 when it exists; 400 when the project's
    /// learner does not use a vision–language model (only such a model can place a name).
    public func addClass(projectID: Int64, fromName name: String) async throws -> AddedClass {
        try await refuseExisting(name, projectID: projectID)
        let model = try await learnerModel(projectID: projectID)
        guard let encoder = textSide(of: model) else {
            let pairs = models.visionLanguagePairs.map { $0.image.name }
            throw Refusal.invalid(
                "a class from a name alone needs the learner's model to be a vision–language model (an embed-image model with its embed-text pair; docs/MODELS.md), and \(model) is not"
                    + (pairs.isEmpty
                        ? "; none is installed" : "; choose \(pairs.joined(separator: " or ")) as the learner's model"),
                field: "from_name")
        }
        // Embedding the prompt now refuses a text model that cannot run before anything is written.
        let prototype = try encoder.embed(IncrementalLearner.prompt(for: name))
        try await store.learning.update(projectID: projectID, names: [name]) {
            record, classes -> (LearnerChange?, Void) in
            guard classes.isEmpty else {
                throw Refusal.conflict("the learner already has a class named \(name)", field: "name")
            }
            if let record, record.model != model {
                throw Refusal.conflict(
                    "the learner's classes are over \(record.model), not \(model): it is being rebuilt over its new model; try again when that is done"
                )
            }
            let dimension = record?.dimension ?? prototype.count
            let now = Date()
            var learner =
                record
                ?? LearnerRecord(
                    projectID: projectID, model: model, dimension: dimension, count: 0, classCount: 0,
                    globalSum: [Double](repeating: 0, count: dimension), updatedAt: now, consolidatedAt: nil)
            learner.classCount += 1
            learner.updatedAt = now
            var change = LearnerChange(learner: learner)
            change.upserted = [
                LearnerClassRecord(
                    name: name, count: 0, sum: [Double](repeating: 0, count: dimension), noiseMean: 0, noiseM2: 0,
                    createdAt: now, updatedAt: now)
            ]
            return (change, ())
        }
        return AddedClass(name: name, added: 0, failed: [])
    }

    /// The prototypes of the classes that have no photo yet (name → text embedding), and the
    /// mean embedding of every class's prompt; empty when the model has no text side.
    func prototypes(model: String, classes: [LearnerClassRecord]) throws -> (
        vectors: [String: [Float]], centre: [Float]?
    ) {
        guard let encoder = textSide(of: model), classes.contains(where: { $0.count == 0 }) else { return ([:], nil) }
        let names = classes.map(\.name)
        let vectors = try encoder.embed(names.map(IncrementalLearner.prompt(for:)))
        var prototypes: [String: [Float]] = [:]
        for (record, vector) in zip(classes, vectors) where record.count == 0 { prototypes[record.name] = vector }
        guard names.count >= 2, let width = vectors.first?.count else { return (prototypes, nil) }
        var centre = [Float](repeating: 0, count: width)
        for vector in vectors where vector.count == width {
            for index in 0..<width { centre[index] += vector[index] / Float(vectors.count) }
        }
        return (prototypes, centre)
    }
}
