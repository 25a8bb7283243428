/// Every kind of event the log records: one case per dotted verb, so a typo cannot make a
/// new kind of event that no page, toast or webhook knows of.
public enum EventAction: String, Sendable, CaseIterable, Codable {
    case signedIn = "auth.signed_in"
    case signedOut = "auth.signed_out"
    case signInFailed = "auth.sign_in_failed"
    case userCreated = "user.created"
    case userDisabled = "user.disabled"
    case userEnabled = "user.enabled"
    case userMadeAdmin = "user.made_admin"
    case userAdminRemoved = "user.admin_removed"
    case userPasswordReset = "user.password_reset"
    case userPasswordChanged = "user.password_changed"
    case tokenCreated = "token.created"
    case tokenRevoked = "token.revoked"
    case projectCreated = "project.created"
    case projectUpdated = "project.updated"
    case projectDeleted = "project.deleted"
    case projectExported = "project.exported"
    case memberRoleSet = "member.role_set"
    case memberRemoved = "member.removed"
    case linkCreated = "link.created"
    case linkRevoked = "link.revoked"
    case imageUploaded = "image.uploaded"
    case imageRemoved = "image.removed"
    /// A photo's human labels in a project changed (an edit, a bulk change or an undo).
    case labelChanged = "label.changed"
    /// An editor accepted or rejected a photo waiting for review.
    case reviewDecided = "review.decided"
    case importCompleted = "import.completed"
    case duplicatesMerged = "duplicates.merged"
    case webhookCreated = "webhook.created"
    case webhookDeleted = "webhook.deleted"
    case jobEnqueued = "job.enqueued"
    case jobCancelled = "job.cancelled"
    case jobRetried = "job.retried"
    case jobFailed = "job.failed"
    case jobDead = "job.dead"
    case modelRegistered = "model.registered"
    case modelRemoved = "model.removed"
    case modelEvaluated = "model.evaluated"
    case learnerClassAdded = "learner.class_added"
    case learnerClassRemoved = "learner.class_removed"
    case learnerModelSet = "learner.model_set"
    case learnerThresholdSet = "learner.threshold_set"
    case learnerReset = "learner.reset"
    case learnerUpdating = "learner.updating"
    case learnerUpdated = "learner.updated"
    case learnerFailed = "learner.failed"
    case classifierTrained = "classifier.trained"
    case classifierActivated = "classifier.activated"
    case repairRequested = "repair.requested"
    case repairSucceeded = "repair.succeeded"
    case repairFailed = "repair.failed"
    case repairDiscarded = "repair.discarded"

    /// The project-scoped events a webhook may subscribe to.
    public static let webhookEvents: [EventAction] = [
        .imageUploaded, .imageRemoved, .labelChanged, .reviewDecided, .importCompleted, .linkCreated, .linkRevoked,
        .memberRoleSet,
        .memberRemoved,
        .projectUpdated, .webhookCreated, .webhookDeleted, .jobDead, .jobFailed, .jobCancelled, .jobRetried,
    ]
}
