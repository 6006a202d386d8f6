# HCL2 version of custom_platform.json next to it: an Elastic Beanstalk custom platform image
# (Node.js behind nginx with pm2) on Amazon Linux 2023. Same variables, same build; run it from any
# directory (builders/ and provisioners/ are found through repo_dir):
#   rpack build templates/nodejs-al2023/custom_platform.pkr.hcl

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.0.0"
    }
  }
}

# EB's builder sets AWS_EB_PLATFORM_*; outside EB the folder name and 0.0.0.
variable "platform_name" {
  type    = string
  default = coalesce(env("AWS_EB_PLATFORM_NAME"), "nodejs-al2023")
}
variable "platform_version" {
  type    = string
  default = coalesce(env("AWS_EB_PLATFORM_VERSION"), "0.0.0")
}
variable "platform_arn" {
  type    = string
  default = env("AWS_EB_PLATFORM_ARN")
}
variable "region" {
  type    = string
  default = coalesce(env("AWS_REGION"), "us-east-1")
}
variable "instance_type" {
  type    = string
  default = "t3.small"
}
variable "source_ami_owner" {
  type    = string
  default = "137112412989"
}
variable "source_ami_name" {
  type    = string
  default = "al2023-ami-2023.*-x86_64"
}
variable "node_version" {
  type    = string
  default = "22"
}
variable "pm2_version" {
  type    = string
  default = "latest"
}
variable "repo_dir" {
  type    = string
  default = "{{template_dir}}/../.."
}
variable "stage_dir" {
  type    = string
  default = "/tmp/eb-platform"
}
variable "eb_builder_root" {
  type    = string
  default = "/"
}
variable "skip_packages" {
  type    = string
  default = "0"
}

source "amazon-ebs" "HVM AMI builder" {
  region        = var.region
  instance_type = var.instance_type
  source_ami_filter {
    filters = {
      name                = var.source_ami_name
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = [var.source_ami_owner]
    most_recent = true
  }
  ssh_username    = "ec2-user"
  ssh_timeout     = "10m"
  ami_name        = "${var.platform_name}-${var.platform_version}-{{timestamp}}"
  ami_description = "Elastic Beanstalk custom platform ${var.platform_name} ${var.platform_version}: Node.js ${var.node_version} on Amazon Linux 2023, built from {{ .SourceAMIName }}"
  run_tags = {
    Name             = "eb-platform-builder ${var.platform_name}"
    eb_platform_name = var.platform_name
  }
  tags = {
    Name                = "${var.platform_name} ${var.platform_version}"
    eb_platform_name    = var.platform_name
    eb_platform_version = var.platform_version
    eb_platform_arn     = var.platform_arn
    base_ami_id         = "{{ .SourceAMI }}"
    base_ami_name       = "{{ .SourceAMIName }}"
    node_version        = var.node_version
    os                  = "Amazon Linux 2023"
  }
  snapshot_tags = {
    Name                = "${var.platform_name} ${var.platform_version}"
    eb_platform_name    = var.platform_name
    eb_platform_version = var.platform_version
  }
}

build {
  description = "Elastic Beanstalk custom platform: Node.js behind nginx with pm2 on Amazon Linux 2023."
  sources     = ["source.amazon-ebs.HVM AMI builder"]

  provisioner "shell" {
    inline = ["mkdir -p ${var.stage_dir}/builders"]
  }
  provisioner "file" {
    source      = "${var.repo_dir}/builders/common"
    destination = "${var.stage_dir}/builders/"
  }
  provisioner "file" {
    source      = "${var.repo_dir}/builders/amazon"
    destination = "${var.stage_dir}/builders/"
  }
  provisioner "file" {
    source      = "${var.repo_dir}/provisioners"
    destination = "${var.stage_dir}/"
  }
  provisioner "shell" {
    environment_vars = [
      "EB_FLAVOR=amazon",
      "NODE_VERSION=${var.node_version}",
      "PM2_VERSION=${var.pm2_version}",
      "EB_STAGE_DIR=${var.stage_dir}",
      "EB_BUILDER_ROOT=${var.eb_builder_root}",
      "EB_BUILDER_SKIP_PACKAGES=${var.skip_packages}",
      "AWS_EB_PLATFORM_NAME=${var.platform_name}",
      "AWS_EB_PLATFORM_VERSION=${var.platform_version}",
    ]
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E {{ .Path }}"
    scripts         = ["${var.repo_dir}/provisioners/eb_builder.sh"]
  }
  provisioner "shell" {
    inline = ["rm -rf ${var.stage_dir}"]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      platform_name    = var.platform_name
      platform_version = var.platform_version
      node_version     = var.node_version
      flavor           = "amazon"
    }
  }
}
