// What the browser tests use of the AWS SDK for JavaScript v3, as one global: FakerekSdk.
export {
  RekognitionClient,
  CreateProjectCommand,
  DescribeProjectsCommand,
  DetectCustomLabelsCommand,
} from "@aws-sdk/client-rekognition";
