"""The OCI runtime-spec JSON schema (runtime-spec 1.0.2-118-g5cfc4c3, Apache-2.0, The Linux Foundation),
as Python data: imported from a .pyc it loads faster than the JSON files and ships without package data.

Generated from Debian's golang-github-opencontainers-specs-dev (runtime-spec/schema/*.json); to refresh,
regenerate from those files as Python literals: a value's `repr` where it fits within 120 columns, else
one item per line. Used by mydocker/runtime/validate.py.
"""

# fmt: off
SCHEMAS = {
    'config-linux.json': {
        'linux': {
            'description': 'Linux platform-specific configurations',
            'type': 'object',
            'properties': {
                'devices': {'type': 'array', 'items': {'$ref': 'defs-linux.json#/definitions/Device'}},
                'uidMappings': {'type': 'array', 'items': {'$ref': 'defs.json#/definitions/IDMapping'}},
                'gidMappings': {'type': 'array', 'items': {'$ref': 'defs.json#/definitions/IDMapping'}},
                'namespaces': {
                    'type': 'array',
                    'items': {'anyOf': [{'$ref': 'defs-linux.json#/definitions/NamespaceReference'}]},
                },
                'resources': {
                    'type': 'object',
                    'properties': {
                        'unified': {'$ref': 'defs.json#/definitions/mapStringString'},
                        'devices': {'type': 'array', 'items': {'$ref': 'defs-linux.json#/definitions/DeviceCgroup'}},
                        'pids': {
                            'type': 'object',
                            'properties': {'limit': {'$ref': 'defs.json#/definitions/int64'}},
                            'required': ['limit'],
                        },
                        'blockIO': {
                            'type': 'object',
                            'properties': {
                                'weight': {'$ref': 'defs-linux.json#/definitions/weight'},
                                'leafWeight': {'$ref': 'defs-linux.json#/definitions/weight'},
                                'throttleReadBpsDevice': {
                                    'type': 'array',
                                    'items': {'$ref': 'defs-linux.json#/definitions/blockIODeviceThrottle'},
                                },
                                'throttleWriteBpsDevice': {
                                    'type': 'array',
                                    'items': {'$ref': 'defs-linux.json#/definitions/blockIODeviceThrottle'},
                                },
                                'throttleReadIOPSDevice': {
                                    'type': 'array',
                                    'items': {'$ref': 'defs-linux.json#/definitions/blockIODeviceThrottle'},
                                },
                                'throttleWriteIOPSDevice': {
                                    'type': 'array',
                                    'items': {'$ref': 'defs-linux.json#/definitions/blockIODeviceThrottle'},
                                },
                                'weightDevice': {
                                    'type': 'array',
                                    'items': {'$ref': 'defs-linux.json#/definitions/blockIODeviceWeight'},
                                },
                            },
                        },
                        'cpu': {
                            'type': 'object',
                            'properties': {
                                'cpus': {'type': 'string'},
                                'mems': {'type': 'string'},
                                'period': {'$ref': 'defs.json#/definitions/uint64'},
                                'quota': {'$ref': 'defs.json#/definitions/int64'},
                                'burst': {'$ref': 'defs.json#/definitions/uint64'},
                                'realtimePeriod': {'$ref': 'defs.json#/definitions/uint64'},
                                'realtimeRuntime': {'$ref': 'defs.json#/definitions/int64'},
                                'shares': {'$ref': 'defs.json#/definitions/uint64'},
                                'idle': {'$ref': 'defs.json#/definitions/int64'},
                            },
                        },
                        'hugepageLimits': {
                            'type': 'array',
                            'items': {
                                'type': 'object',
                                'properties': {
                                    'pageSize': {'type': 'string', 'pattern': '^[1-9][0-9]*[KMG]B$'},
                                    'limit': {'$ref': 'defs.json#/definitions/uint64'},
                                },
                                'required': ['pageSize', 'limit'],
                            },
                        },
                        'memory': {
                            'type': 'object',
                            'properties': {
                                'kernel': {'$ref': 'defs.json#/definitions/int64'},
                                'kernelTCP': {'$ref': 'defs.json#/definitions/int64'},
                                'limit': {'$ref': 'defs.json#/definitions/int64'},
                                'reservation': {'$ref': 'defs.json#/definitions/int64'},
                                'swap': {'$ref': 'defs.json#/definitions/int64'},
                                'swappiness': {'$ref': 'defs.json#/definitions/uint64'},
                                'disableOOMKiller': {'type': 'boolean'},
                                'useHierarchy': {'type': 'boolean'},
                                'checkBeforeUpdate': {'type': 'boolean'},
                            },
                        },
                        'network': {
                            'type': 'object',
                            'properties': {
                                'classID': {'$ref': 'defs.json#/definitions/uint32'},
                                'priorities': {
                                    'type': 'array',
                                    'items': {'$ref': 'defs-linux.json#/definitions/NetworkInterfacePriority'},
                                },
                            },
                        },
                        'rdma': {
                            'type': 'object',
                            'additionalProperties': {'$ref': 'defs-linux.json#/definitions/Rdma'},
                        },
                    },
                },
                'cgroupsPath': {'type': 'string'},
                'rootfsPropagation': {'$ref': 'defs-linux.json#/definitions/RootfsPropagation'},
                'seccomp': {
                    'type': 'object',
                    'properties': {
                        'defaultAction': {'$ref': 'defs-linux.json#/definitions/SeccompAction'},
                        'defaultErrnoRet': {'$ref': 'defs.json#/definitions/uint32'},
                        'flags': {'type': 'array', 'items': {'$ref': 'defs-linux.json#/definitions/SeccompFlag'}},
                        'listenerPath': {'type': 'string'},
                        'listenerMetadata': {'type': 'string'},
                        'architectures': {
                            'type': 'array',
                            'items': {'$ref': 'defs-linux.json#/definitions/SeccompArch'},
                        },
                        'syscalls': {'type': 'array', 'items': {'$ref': 'defs-linux.json#/definitions/Syscall'}},
                    },
                    'required': ['defaultAction'],
                },
                'sysctl': {'$ref': 'defs.json#/definitions/mapStringString'},
                'maskedPaths': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                'readonlyPaths': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                'mountLabel': {'type': 'string'},
                'intelRdt': {
                    'type': 'object',
                    'properties': {
                        'closID': {'type': 'string'},
                        'l3CacheSchema': {'type': 'string'},
                        'memBwSchema': {'type': 'string', 'pattern': '^MB:[^\\n]*$'},
                        'enableCMT': {'type': 'boolean'},
                        'enableMBM': {'type': 'boolean'},
                    },
                },
                'personality': {'type': 'object', '$ref': 'defs-linux.json#/definitions/Personality'},
            },
        },
    },
    'config-schema.json': {
        'description': 'Open Container Initiative Runtime Specification Container Configuration Schema',
        '$schema': 'http://json-schema.org/draft-04/schema#',
        'type': 'object',
        'properties': {
            'ociVersion': {'$ref': 'defs.json#/definitions/ociVersion'},
            'hooks': {
                'type': 'object',
                'properties': {
                    'prestart': {'$ref': 'defs.json#/definitions/ArrayOfHooks'},
                    'createRuntime': {'$ref': 'defs.json#/definitions/ArrayOfHooks'},
                    'createContainer': {'$ref': 'defs.json#/definitions/ArrayOfHooks'},
                    'startContainer': {'$ref': 'defs.json#/definitions/ArrayOfHooks'},
                    'poststart': {'$ref': 'defs.json#/definitions/ArrayOfHooks'},
                    'poststop': {'$ref': 'defs.json#/definitions/ArrayOfHooks'},
                },
            },
            'annotations': {'$ref': 'defs.json#/definitions/annotations'},
            'hostname': {'type': 'string'},
            'domainname': {'type': 'string'},
            'mounts': {'type': 'array', 'items': {'$ref': 'defs.json#/definitions/Mount'}},
            'root': {
                'description': "Configures the container's root filesystem.",
                'type': 'object',
                'required': ['path'],
                'properties': {'path': {'$ref': 'defs.json#/definitions/FilePath'}, 'readonly': {'type': 'boolean'}},
            },
            'process': {
                'type': 'object',
                'required': ['cwd'],
                'properties': {
                    'args': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                    'commandLine': {'type': 'string'},
                    'consoleSize': {
                        'type': 'object',
                        'required': ['height', 'width'],
                        'properties': {
                            'height': {'$ref': 'defs.json#/definitions/uint64'},
                            'width': {'$ref': 'defs.json#/definitions/uint64'},
                        },
                    },
                    'cwd': {'type': 'string'},
                    'env': {'$ref': 'defs.json#/definitions/Env'},
                    'terminal': {'type': 'boolean'},
                    'user': {
                        'type': 'object',
                        'properties': {
                            'uid': {'$ref': 'defs.json#/definitions/UID'},
                            'gid': {'$ref': 'defs.json#/definitions/GID'},
                            'umask': {'$ref': 'defs.json#/definitions/Umask'},
                            'additionalGids': {'$ref': 'defs.json#/definitions/ArrayOfGIDs'},
                            'username': {'type': 'string'},
                        },
                    },
                    'capabilities': {
                        'type': 'object',
                        'properties': {
                            'bounding': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                            'permitted': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                            'effective': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                            'inheritable': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                            'ambient': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                        },
                    },
                    'apparmorProfile': {'type': 'string'},
                    'oomScoreAdj': {'type': 'integer'},
                    'selinuxLabel': {'type': 'string'},
                    'noNewPrivileges': {'type': 'boolean'},
                    'rlimits': {
                        'type': 'array',
                        'items': {
                            'type': 'object',
                            'required': ['type', 'soft', 'hard'],
                            'properties': {
                                'hard': {'$ref': 'defs.json#/definitions/uint64'},
                                'soft': {'$ref': 'defs.json#/definitions/uint64'},
                                'type': {'type': 'string', 'pattern': '^RLIMIT_[A-Z]+$'},
                            },
                        },
                    },
                },
            },
            'linux': {'$ref': 'config-linux.json#/linux'},
            'solaris': {'$ref': 'config-solaris.json#/solaris'},
            'windows': {'$ref': 'config-windows.json#/windows'},
            'vm': {'$ref': 'config-vm.json#/vm'},
            'zos': {'$ref': 'config-zos.json#/zos'},
        },
        'required': ['ociVersion'],
    },
    'config-solaris.json': {
        'solaris': {
            'description': 'Solaris platform-specific configurations',
            'type': 'object',
            'properties': {
                'milestone': {'type': 'string'},
                'limitpriv': {'type': 'string'},
                'maxShmMemory': {'type': 'string'},
                'cappedCPU': {'type': 'object', 'properties': {'ncpus': {'type': 'string'}}},
                'cappedMemory': {
                    'type': 'object',
                    'properties': {'physical': {'type': 'string'}, 'swap': {'type': 'string'}},
                },
                'anet': {
                    'type': 'array',
                    'items': {
                        'type': 'object',
                        'properties': {
                            'linkname': {'type': 'string'},
                            'lowerLink': {'type': 'string'},
                            'allowedAddress': {'type': 'string'},
                            'configureAllowedAddress': {'type': 'string'},
                            'defrouter': {'type': 'string'},
                            'macAddress': {'type': 'string'},
                            'linkProtection': {'type': 'string'},
                        },
                    },
                },
            },
        },
    },
    'config-vm.json': {
        'vm': {
            'description': 'configuration for virtual-machine-based containers',
            'type': 'object',
            'required': ['kernel'],
            'properties': {
                'hypervisor': {
                    'description': 'hypervisor config used by VM-based containers',
                    'type': 'object',
                    'required': ['path'],
                    'properties': {
                        'path': {'$ref': 'defs.json#/definitions/FilePath'},
                        'parameters': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                    },
                },
                'kernel': {
                    'description': 'kernel config used by VM-based containers',
                    'type': 'object',
                    'required': ['path'],
                    'properties': {
                        'path': {'$ref': 'defs.json#/definitions/FilePath'},
                        'parameters': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                        'initrd': {'$ref': 'defs.json#/definitions/FilePath'},
                    },
                },
                'image': {
                    'description': 'root image config used by VM-based containers',
                    'type': 'object',
                    'required': ['path', 'format'],
                    'properties': {
                        'path': {'$ref': 'defs.json#/definitions/FilePath'},
                        'format': {'$ref': 'defs-vm.json#/definitions/RootImageFormat'},
                    },
                },
            },
        },
    },
    'config-windows.json': {
        'windows': {
            'description': 'Windows platform-specific configurations',
            'type': 'object',
            'properties': {
                'layerFolders': {'type': 'array', 'items': {'$ref': 'defs.json#/definitions/FilePath'}, 'minItems': 1},
                'devices': {'type': 'array', 'items': {'$ref': 'defs-windows.json#/definitions/Device'}},
                'resources': {
                    'type': 'object',
                    'properties': {
                        'memory': {
                            'type': 'object',
                            'properties': {'limit': {'$ref': 'defs.json#/definitions/uint64'}},
                        },
                        'cpu': {
                            'type': 'object',
                            'properties': {
                                'count': {'$ref': 'defs.json#/definitions/uint64'},
                                'shares': {'$ref': 'defs.json#/definitions/uint16'},
                                'maximum': {'$ref': 'defs.json#/definitions/uint16'},
                            },
                        },
                        'storage': {
                            'type': 'object',
                            'properties': {
                                'iops': {'$ref': 'defs.json#/definitions/uint64'},
                                'bps': {'$ref': 'defs.json#/definitions/uint64'},
                                'sandboxSize': {'$ref': 'defs.json#/definitions/uint64'},
                            },
                        },
                    },
                },
                'network': {
                    'type': 'object',
                    'properties': {
                        'endpointList': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                        'allowUnqualifiedDNSQuery': {'type': 'boolean'},
                        'DNSSearchList': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                        'networkSharedContainerName': {'type': 'string'},
                        'networkNamespace': {'type': 'string'},
                    },
                },
                'credentialSpec': {'type': 'object'},
                'servicing': {'type': 'boolean'},
                'ignoreFlushesDuringBoot': {'type': 'boolean'},
                'hyperv': {'type': 'object', 'properties': {'utilityVMPath': {'type': 'string'}}},
            },
            'required': ['layerFolders'],
        },
    },
    'config-zos.json': {
        'zos': {
            'description': 'z/OS platform-specific configurations',
            'type': 'object',
            'properties': {'devices': {'type': 'array', 'items': {'$ref': 'defs-zos.json#/definitions/Device'}}},
        },
    },
    'defs-linux.json': {
        'definitions': {
            'PersonalityDomain': {'type': 'string', 'enum': ['LINUX', 'LINUX32']},
            'Personality': {
                'type': 'object',
                'properties': {
                    'domain': {'$ref': '#/definitions/PersonalityDomain'},
                    'flags': {'$ref': 'defs.json#/definitions/ArrayOfStrings'},
                },
            },
            'RootfsPropagation': {
                'type': 'string',
                'enum': ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'],
            },
            'SeccompArch': {
                'type': 'string',
                'enum': [
                    'SCMP_ARCH_X86',
                    'SCMP_ARCH_X86_64',
                    'SCMP_ARCH_X32',
                    'SCMP_ARCH_ARM',
                    'SCMP_ARCH_AARCH64',
                    'SCMP_ARCH_MIPS',
                    'SCMP_ARCH_MIPS64',
                    'SCMP_ARCH_MIPS64N32',
                    'SCMP_ARCH_MIPSEL',
                    'SCMP_ARCH_MIPSEL64',
                    'SCMP_ARCH_MIPSEL64N32',
                    'SCMP_ARCH_PPC',
                    'SCMP_ARCH_PPC64',
                    'SCMP_ARCH_PPC64LE',
                    'SCMP_ARCH_S390',
                    'SCMP_ARCH_S390X',
                    'SCMP_ARCH_PARISC',
                    'SCMP_ARCH_PARISC64',
                    'SCMP_ARCH_RISCV64',
                ],
            },
            'SeccompAction': {
                'type': 'string',
                'enum': [
                    'SCMP_ACT_KILL',
                    'SCMP_ACT_KILL_PROCESS',
                    'SCMP_ACT_KILL_THREAD',
                    'SCMP_ACT_TRAP',
                    'SCMP_ACT_ERRNO',
                    'SCMP_ACT_TRACE',
                    'SCMP_ACT_ALLOW',
                    'SCMP_ACT_LOG',
                    'SCMP_ACT_NOTIFY',
                ],
            },
            'SeccompFlag': {
                'type': 'string',
                'enum': [
                    'SECCOMP_FILTER_FLAG_TSYNC',
                    'SECCOMP_FILTER_FLAG_LOG',
                    'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
                    'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
                ],
            },
            'SeccompOperators': {
                'type': 'string',
                'enum': [
                    'SCMP_CMP_NE',
                    'SCMP_CMP_LT',
                    'SCMP_CMP_LE',
                    'SCMP_CMP_EQ',
                    'SCMP_CMP_GE',
                    'SCMP_CMP_GT',
                    'SCMP_CMP_MASKED_EQ',
                ],
            },
            'SyscallArg': {
                'type': 'object',
                'properties': {
                    'index': {'$ref': 'defs.json#/definitions/uint32'},
                    'value': {'$ref': 'defs.json#/definitions/uint64'},
                    'valueTwo': {'$ref': 'defs.json#/definitions/uint64'},
                    'op': {'$ref': '#/definitions/SeccompOperators'},
                },
                'required': ['index', 'value', 'op'],
            },
            'Syscall': {
                'type': 'object',
                'properties': {
                    'names': {'type': 'array', 'items': {'type': 'string'}, 'minItems': 1},
                    'action': {'$ref': '#/definitions/SeccompAction'},
                    'errnoRet': {'$ref': 'defs.json#/definitions/uint32'},
                    'args': {'type': 'array', 'items': {'$ref': '#/definitions/SyscallArg'}},
                },
                'required': ['names', 'action'],
            },
            'Major': {'description': 'major device number', '$ref': 'defs.json#/definitions/int64'},
            'Minor': {'description': 'minor device number', '$ref': 'defs.json#/definitions/int64'},
            'FileMode': {
                'description': 'File permissions mode (typically an octal value)',
                'type': 'integer',
                'minimum': 0,
                'maximum': 512,
            },
            'FileType': {
                'description': 'Type of a block or special character device',
                'type': 'string',
                'pattern': '^[cbup]$',
            },
            'Device': {
                'type': 'object',
                'required': ['type', 'path'],
                'properties': {
                    'type': {'$ref': '#/definitions/FileType'},
                    'path': {'$ref': 'defs.json#/definitions/FilePath'},
                    'fileMode': {'$ref': '#/definitions/FileMode'},
                    'major': {'$ref': '#/definitions/Major'},
                    'minor': {'$ref': '#/definitions/Minor'},
                    'uid': {'$ref': 'defs.json#/definitions/UID'},
                    'gid': {'$ref': 'defs.json#/definitions/GID'},
                },
            },
            'weight': {'$ref': 'defs.json#/definitions/uint16'},
            'blockIODevice': {
                'type': 'object',
                'properties': {'major': {'$ref': '#/definitions/Major'}, 'minor': {'$ref': '#/definitions/Minor'}},
                'required': ['major', 'minor'],
            },
            'blockIODeviceWeight': {
                'type': 'object',
                'allOf': [
                    {'$ref': '#/definitions/blockIODevice'},
                    {
                        'type': 'object',
                        'properties': {
                            'weight': {'$ref': '#/definitions/weight'},
                            'leafWeight': {'$ref': '#/definitions/weight'},
                        },
                    },
                ],
            },
            'blockIODeviceThrottle': {
                'allOf': [
                    {'$ref': '#/definitions/blockIODevice'},
                    {'type': 'object', 'properties': {'rate': {'$ref': 'defs.json#/definitions/uint64'}}},
                ],
            },
            'DeviceCgroup': {
                'type': 'object',
                'properties': {
                    'allow': {'type': 'boolean'},
                    'type': {'type': 'string'},
                    'major': {'$ref': '#/definitions/Major'},
                    'minor': {'$ref': '#/definitions/Minor'},
                    'access': {'type': 'string'},
                },
                'required': ['allow'],
            },
            'NetworkInterfacePriority': {
                'type': 'object',
                'properties': {'name': {'type': 'string'}, 'priority': {'$ref': 'defs.json#/definitions/uint32'}},
                'required': ['name', 'priority'],
            },
            'Rdma': {
                'type': 'object',
                'properties': {
                    'hcaHandles': {'$ref': 'defs.json#/definitions/uint32'},
                    'hcaObjects': {'$ref': 'defs.json#/definitions/uint32'},
                },
            },
            'NamespaceType': {'type': 'string', 'enum': ['mount', 'pid', 'network', 'uts', 'ipc', 'user', 'cgroup']},
            'NamespaceReference': {
                'type': 'object',
                'properties': {
                    'type': {'$ref': '#/definitions/NamespaceType'},
                    'path': {'$ref': 'defs.json#/definitions/FilePath'},
                },
                'required': ['type'],
            },
        },
    },
    'defs-vm.json': {
        'definitions': {'RootImageFormat': {'type': 'string', 'enum': ['raw', 'qcow2', 'vdi', 'vmdk', 'vhd']}},
    },
    'defs-windows.json': {
        'definitions': {
            'Device': {
                'type': 'object',
                'properties': {'id': {'type': 'string'}, 'idType': {'type': 'string', 'enum': ['class']}},
                'required': ['id', 'idType'],
            },
        },
    },
    'defs-zos.json': {
        'definitions': {
            'Major': {'description': 'major device number', '$ref': 'defs.json#/definitions/int64'},
            'Minor': {'description': 'minor device number', '$ref': 'defs.json#/definitions/int64'},
            'FileMode': {
                'description': 'File permissions mode (typically an octal value)',
                'type': 'integer',
                'minimum': 0,
                'maximum': 512,
            },
            'FileType': {
                'description': 'Type of a block or special character device',
                'type': 'string',
                'pattern': '^[cbup]$',
            },
            'Device': {
                'type': 'object',
                'required': ['type', 'path', 'major', 'minor'],
                'properties': {
                    'path': {'$ref': 'defs.json#/definitions/FilePath'},
                    'type': {'$ref': '#/definitions/FileType'},
                    'major': {'$ref': '#/definitions/Major'},
                    'minor': {'$ref': '#/definitions/Minor'},
                    'fileMode': {'$ref': '#/definitions/FileMode'},
                    'uid': {'$ref': 'defs.json#/definitions/UID'},
                    'gid': {'$ref': 'defs.json#/definitions/GID'},
                },
            },
        },
    },
    'defs.json': {
        'description': 'Definitions used throughout the Open Container Initiative Runtime Specification',
        'definitions': {
            'int8': {'type': 'integer', 'minimum': -128, 'maximum': 127},
            'int16': {'type': 'integer', 'minimum': -32768, 'maximum': 32767},
            'int32': {'type': 'integer', 'minimum': -2147483648, 'maximum': 2147483647},
            'int64': {'type': 'integer', 'minimum': -9223372036854775808, 'maximum': 9223372036854775807},
            'uint8': {'type': 'integer', 'minimum': 0, 'maximum': 255},
            'uint16': {'type': 'integer', 'minimum': 0, 'maximum': 65535},
            'uint32': {'type': 'integer', 'minimum': 0, 'maximum': 4294967295},
            'uint64': {'type': 'integer', 'minimum': 0, 'maximum': 18446744073709551615},
            'percent': {'type': 'integer', 'minimum': 0, 'maximum': 100},
            'mapStringString': {'type': 'object', 'patternProperties': {'.{1,}': {'type': 'string'}}},
            'UID': {'$ref': '#/definitions/uint32'},
            'GID': {'$ref': '#/definitions/uint32'},
            'Umask': {'$ref': '#/definitions/uint32'},
            'ArrayOfGIDs': {'type': 'array', 'items': {'$ref': '#/definitions/GID'}},
            'ArrayOfStrings': {'type': 'array', 'items': {'type': 'string'}},
            'FilePath': {'type': 'string'},
            'Env': {'$ref': '#/definitions/ArrayOfStrings'},
            'Hook': {
                'type': 'object',
                'properties': {
                    'path': {'$ref': '#/definitions/FilePath'},
                    'args': {'$ref': '#/definitions/ArrayOfStrings'},
                    'env': {'$ref': '#/definitions/Env'},
                    'timeout': {'type': 'integer', 'minimum': 1},
                },
                'required': ['path'],
            },
            'ArrayOfHooks': {'type': 'array', 'items': {'$ref': '#/definitions/Hook'}},
            'IDMapping': {
                'type': 'object',
                'properties': {
                    'containerID': {'$ref': '#/definitions/uint32'},
                    'hostID': {'$ref': '#/definitions/uint32'},
                    'size': {'$ref': '#/definitions/uint32'},
                },
                'required': ['containerID', 'hostID', 'size'],
            },
            'Mount': {
                'type': 'object',
                'properties': {
                    'source': {'$ref': '#/definitions/FilePath'},
                    'destination': {'$ref': '#/definitions/FilePath'},
                    'options': {'$ref': '#/definitions/ArrayOfStrings'},
                    'type': {'type': 'string'},
                    'uidMappings': {'type': 'array', 'items': {'$ref': '#/definitions/IDMapping'}},
                    'gidMappings': {'type': 'array', 'items': {'$ref': '#/definitions/IDMapping'}},
                },
                'required': ['destination'],
            },
            'ociVersion': {
                'description': (
                    'The version of Open Container Initiative Runtime Specification that the document complies with'
                ),
                'type': 'string',
            },
            'annotations': {'$ref': '#/definitions/mapStringString'},
        },
    },
    'state-schema.json': {
        'description': 'Open Container Runtime State Schema',
        '$schema': 'http://json-schema.org/draft-04/schema#',
        'type': 'object',
        'properties': {
            'ociVersion': {'$ref': 'defs.json#/definitions/ociVersion'},
            'id': {'description': "the container's ID", 'type': 'string'},
            'status': {'type': 'string', 'enum': ['creating', 'created', 'running', 'stopped']},
            'pid': {'type': 'integer', 'minimum': 0},
            'bundle': {'type': 'string'},
            'annotations': {'$ref': 'defs.json#/definitions/annotations'},
        },
        'required': ['ociVersion', 'id', 'status', 'bundle'],
    },
}
