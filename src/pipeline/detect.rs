//! How a pipeline learns of a change at its source. A CodeStar connection
//! starts it by itself; for CodeCommit and S3 sources, created through the
//! API with `PollForSourceChanges: false`, the pipeline must bring its own
//! change detection: an EventBridge rule on the branch's pushes, or on the
//! object's writes as a CloudTrail trail of that object's data events
//! records them.

use super::support::{role, statement, sub};
use crate::spec::pipeline::{Pipeline, Source};
use serde_json::{Map, Value as Json, json};

/// The rule's logical id in the supporting stack.
pub const RULE: &str = "SourceChange";

/// The pipeline's ARN, which the supporting stack does not create.
fn pipeline_arn(name: &str) -> Json {
    sub(&format!(
        "arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{name}"
    ))
}

/// The resources that start `pipeline` on a change at its source (none for
/// a connection, which starts it itself).
pub fn resources(pipeline: &Pipeline) -> Map<String, Json> {
    let mut out = Map::new();
    let pattern = match &pipeline.source {
        Source::CodeStar { .. } => return out,
        Source::CodeCommit { repository, branch } => json!({
            "source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "resources": [sub(&format!(
                "arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{repository}"
            ))],
            "detail": {
                "event": ["referenceCreated", "referenceUpdated"],
                "referenceType": ["branch"],
                "referenceName": [branch],
            },
        }),
        Source::S3 { bucket, key } => {
            trail(&mut out, bucket, key);
            json!({
                "source": ["aws.s3"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["s3.amazonaws.com"],
                    "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
                    "requestParameters": { "bucketName": [bucket], "key": [key] },
                },
            })
        }
    };
    out.insert(
        "SourceChangeRole".into(),
        role(
            "events.amazonaws.com",
            vec![statement(
                &["codepipeline:StartPipelineExecution"],
                vec![pipeline_arn(&pipeline.name)],
            )],
        ),
    );
    out.insert(
        RULE.into(),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": format!("starts pipeline {} on a change at its source", pipeline.name),
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{
                    "Id": "pipeline",
                    "Arn": pipeline_arn(&pipeline.name),
                    "RoleArn": { "Fn::GetAtt": ["SourceChangeRole", "Arn"] },
                }],
            },
        }),
    );
    out
}

/// A trail of the source object's writes, into a bucket of its own: S3
/// sends EventBridge those calls only through CloudTrail (its own event
/// notifications are the source bucket owner's to switch on).
fn trail(out: &mut Map<String, Json>, bucket: &str, key: &str) {
    let mut properties = crate::kinds::bucket::private_encrypted_properties();
    properties["LifecycleConfiguration"] = json!({ "Rules": [
        { "Id": "expire", "Status": "Enabled", "ExpirationInDays": 30 },
    ] });
    out.insert(
        "SourceTrailBucket".into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }),
    );
    out.insert(
        "SourceTrailBucketPolicy".into(),
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": { "Ref": "SourceTrailBucket" },
                "PolicyDocument": { "Version": "2012-10-17", "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": { "Service": "cloudtrail.amazonaws.com" },
                        "Action": "s3:GetBucketAcl",
                        "Resource": { "Fn::GetAtt": ["SourceTrailBucket", "Arn"] },
                    },
                    {
                        "Effect": "Allow",
                        "Principal": { "Service": "cloudtrail.amazonaws.com" },
                        "Action": "s3:PutObject",
                        "Resource": sub("${SourceTrailBucket.Arn}/AWSLogs/${AWS::AccountId}/*"),
                        "Condition": { "StringEquals": { "s3:x-amz-acl": "bucket-owner-full-control" } },
                    },
                ] },
            },
        }),
    );
    out.insert(
        "SourceTrail".into(),
        json!({
            "Type": "AWS::CloudTrail::Trail",
            "DependsOn": ["SourceTrailBucketPolicy"],
            "Properties": {
                "IsLogging": true,
                "S3BucketName": { "Ref": "SourceTrailBucket" },
                "EventSelectors": [{
                    "ReadWriteType": "WriteOnly",
                    "IncludeManagementEvents": false,
                    "DataResources": [{
                        "Type": "AWS::S3::Object",
                        "Values": [sub(&format!("arn:${{AWS::Partition}}:s3:::{bucket}/{key}"))],
                    }],
                }],
            },
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(source: Source) -> Pipeline {
        Pipeline {
            source,
            ..Pipeline::sample(Vec::new())
        }
    }

    #[test]
    fn a_push_to_the_branch_starts_the_pipeline_through_a_role_that_may_only_start_it() {
        let r = resources(&pipeline(Source::CodeCommit {
            repository: "users".into(),
            branch: "main".into(),
        }));
        let pattern = &r[RULE]["Properties"]["EventPattern"];
        assert_eq!(pattern["source"], json!(["aws.codecommit"]));
        assert_eq!(pattern["detail"]["referenceName"], json!(["main"]));
        assert_eq!(
            r[RULE]["Properties"]["Targets"][0]["Arn"],
            pipeline_arn("rel")
        );
        let statement =
            &r["SourceChangeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
        assert_eq!(
            statement["Action"],
            json!(["codepipeline:StartPipelineExecution"])
        );
        assert_eq!(statement["Resource"], json!([pipeline_arn("rel")]));
        assert!(r.get("SourceTrail").is_none());
    }

    #[test]
    fn a_write_of_the_source_object_starts_the_pipeline_as_its_trail_records_it() {
        let r = resources(&pipeline(Source::S3 {
            bucket: "releases".into(),
            key: "users.zip".into(),
        }));
        let pattern = &r[RULE]["Properties"]["EventPattern"];
        assert_eq!(
            pattern["detail"]["requestParameters"],
            json!({ "bucketName": ["releases"], "key": ["users.zip"] })
        );
        let selector = &r["SourceTrail"]["Properties"]["EventSelectors"][0];
        assert_eq!(
            selector["DataResources"][0]["Values"][0],
            sub("arn:${AWS::Partition}:s3:::releases/users.zip")
        );
        assert_eq!(
            r["SourceTrail"]["DependsOn"],
            json!(["SourceTrailBucketPolicy"])
        );
    }

    #[test]
    fn a_connection_needs_no_rule() {
        let r = resources(&pipeline(Source::CodeStar {
            connection: "arn:aws:codeconnections:us-east-1:1:connection/x".into(),
            repository: "acme/users".into(),
            branch: "main".into(),
            provider: crate::spec::pipeline::Provider::GitHub,
        }));
        assert!(r.is_empty());
    }
}
